// Small DOM helpers: every node is built with createElement/textContent
// (no HTML strings), so no text from the server is ever parsed as HTML.

/** h('tag.class#id', {attr: v, onclick: f}, ...children) */
export function h(spec, props = {}, ...children) {
  const m = /^([a-z0-9]+)((?:[.#][\w-]+)*)$/i.exec(spec);
  const el = document.createElement(m ? m[1] : spec);
  if (m && m[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === '.') el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
  }
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

let toastTimer = null;
/** A short message at the bottom of the page (also read by screen readers). */
export function toast(text, bad = false) {
  const t = document.getElementById('toast');
  t.textContent = text;
  t.classList.toggle('bad', bad);
  t.classList.add('show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.remove('show'), bad ? 6000 : 3000);
}

/** SoftEther's "no time" (time 0 of its scale, docs/admin-rpc.md §2). */
const NO_TIME = '1970-01-01T09:00:00.000Z';

export function fmtTime(dt) {
  if (!dt || dt === NO_TIME) return '—';
  const d = new Date(dt);
  return isNaN(d) ? String(dt) : d.toLocaleString();
}

export function fmtBytes(n) {
  n = Number(n) || 0;
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(Math.round(n))) + ' ' + u[i];
}

/** `Name_str` → `Name` */
export function bare(key) {
  return key.replace(/_(u32|u64|bool|str|utf|bin|dt|ip)$/, '');
}

/** A value shown by the type suffix of its key. */
export function fmtValue(key, v) {
  if (key.endsWith('_dt')) return fmtTime(v);
  if (key.endsWith('_bool')) return v ? 'Yes' : 'No';
  if (/Bytes_u64$/.test(key)) return fmtBytes(v);
  if (Array.isArray(v)) return v.length + ' items';
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** A definition list of every scalar field of `obj` (details views). */
export function kv(obj, skip = []) {
  const dl = h('dl.kv');
  for (const [k, v] of Object.entries(obj || {})) {
    if (skip.includes(k) || Array.isArray(v)) continue;
    dl.append(h('dt', {}, bare(k)), h('dd', {}, fmtValue(k, v)));
  }
  return dl;
}

/**
 * A table in its own horizontally scrolling box. `columns`: [header, fn(row)
 * → node|text]. `rows`: array.
 */
export function table(columns, rows, caption) {
  const t = h('table', {},
    caption ? h('caption.muted', {}, caption) : null,
    h('thead', {}, h('tr', {}, columns.map(([c]) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.length ? rows.map((r) => h('tr', {}, columns.map(([, f]) => h('td', {}, f(r)))))
      : h('tr', {}, h('td.muted', { colspan: columns.length }, 'None.'))));
  return h('div.scroll', { tabindex: '0', role: 'region', 'aria-label': caption || 'table' }, t);
}

/** A button that asks for a second click before running `action`. */
export function confirmButton(label, action, cls = 'danger') {
  const b = h('button.secondary', { type: 'button' }, label);
  let armed = null;
  b.addEventListener('click', async () => {
    if (!armed) {
      b.textContent = 'Confirm: ' + label;
      b.className = cls;
      armed = setTimeout(() => { armed = null; b.textContent = label; b.className = 'secondary'; }, 6000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    b.disabled = true;
    try { await action(); } finally { b.disabled = false; b.textContent = label; b.className = 'secondary'; }
  });
  return b;
}

/** A button running an async action, with errors shown as a toast. */
export function button(label, action, cls = 'secondary') {
  const b = h('button', { type: 'button', class: cls }, label);
  b.addEventListener('click', async () => {
    b.disabled = true;
    try { await action(); } catch (e) { toast(e.message, true); } finally { b.disabled = false; }
  });
  return b;
}

/** A labelled input; `opts.type` 'checkbox' gives a check box. */
export function field(label, name, value = '', opts = {}) {
  if (opts.type === 'checkbox') {
    return h('label.check', {}, h('input', { type: 'checkbox', name, checked: !!value }), label);
  }
  if (opts.type === 'select') {
    return h('label', {}, label, h('select', { name },
      opts.options.map(([v, t]) => h('option', { value: v, selected: String(v) === String(value) }, t))));
  }
  return h('label', {}, label, h(opts.type === 'textarea' ? 'textarea' : 'input', {
    name, value, type: opts.type === 'textarea' ? undefined : (opts.type || 'text'),
    required: opts.required, min: opts.min, max: opts.max, placeholder: opts.placeholder,
    autocomplete: opts.type === 'password' ? 'new-password' : 'off', spellcheck: 'false',
  }));
}

/** Values of a form's named controls (check boxes as booleans). */
export function values(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    out[el.name] = el.type === 'checkbox' ? el.checked : el.value;
  }
  return out;
}

/**
 * A form with `children` and a submit button; `onsubmit(values)` runs the
 * change, errors are shown in the form.
 */
export function form(children, submitLabel, onsubmit, id) {
  const err = h('p.error', { role: 'alert' });
  const f = h('form', { id, autocomplete: 'off' }, children,
    h('div.actions', {}, h('button', { type: 'submit' }, submitLabel)), err);
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    const sb = f.querySelector('button[type=submit]');
    sb.disabled = true;
    try { await onsubmit(values(f), f); } catch (e) { err.textContent = e.message; } finally { sb.disabled = false; }
  });
  return f;
}

/** Offers `text` as a file download named `name` (a blob: link). */
export function download(name, text, type = 'application/octet-stream') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name, class: 'hidden' });
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(url); a.remove(); }, 10000);
}

/** A card with a title. */
export function card(title, ...children) {
  return h('section.card', {}, title ? h('h3', {}, title) : null, children);
}
