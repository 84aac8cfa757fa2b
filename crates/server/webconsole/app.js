// Entry point: login, navigation (#/page), the empty-password banner and
// the page life cycle (timers of a page stop when another page is shown).

import { call, setCredentials, clearCredentials, state as apiState, ApiError } from './api.js';
import { h, toast } from './ui.js';
import * as pages from './pages.js';

const $ = (id) => document.getElementById(id);

const PAGES = [
  ['dashboard', 'Dashboard', pages.dashboard, false],
  ['hubs', 'Virtual Hubs', pages.hubs, false],
  ['users', 'Users & groups', pages.users, false],
  ['sessions', 'Sessions', pages.sessions, false],
  ['cascades', 'Cascades', pages.cascades, false],
  ['securenat', 'SecureNAT', pages.securenat, false],
  ['access', 'Access lists', pages.access, false],
  ['listeners', 'Listeners', pages.listeners, true],
  ['bridges', 'Local bridges', pages.bridges, true],
  ['config', 'Configuration', pages.config, true],
];

const ctx = {
  isServerAdmin: false,
  hub: '',
  timers: [],
  generation: 0,
  /** Runs `fn` every `ms` while the current page is shown. */
  every(ms, fn) {
    const gen = ctx.generation;
    const id = setInterval(async () => {
      if (gen !== ctx.generation) return;
      try { await fn(); } catch (e) { handleError(e); }
    }, ms);
    ctx.timers.push(id);
  },
  render: () => render(),
  passwordChanged(pw) {
    setCredentials('', pw);
    showBanner();
  },
};

function handleError(e) {
  if (e instanceof ApiError && e.code === 401) {
    logout('Your credentials are no longer accepted. Log in again.');
    return;
  }
  toast(e.message, true);
}

function currentPage() {
  const name = (location.hash.match(/^#\/(\w+)/) || [])[1] || 'dashboard';
  const allowed = PAGES.filter((p) => ctx.isServerAdmin || !p[3]);
  return allowed.find((p) => p[0] === name) || allowed[0];
}

async function render() {
  ctx.timers.forEach(clearInterval);
  ctx.timers = [];
  ctx.generation += 1;
  const gen = ctx.generation;
  const [name, , fn] = currentPage();
  for (const a of $('nav').querySelectorAll('a')) {
    if (a.dataset.page === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const page = $('page');
  page.dataset.page = name;
  page.setAttribute('aria-busy', 'true');
  try {
    const node = await fn(ctx);
    if (gen !== ctx.generation) return;
    page.replaceChildren(node);
  } catch (e) {
    if (gen !== ctx.generation) return;
    page.replaceChildren(h('p.error', { role: 'alert' }, 'Error: ' + e.message));
    handleError(e);
  } finally {
    if (gen === ctx.generation) {
      page.removeAttribute('aria-busy');
      page.dataset.loaded = String(gen);
    }
    showBanner();
  }
}

function buildNav() {
  const nav = $('nav');
  nav.replaceChildren(...PAGES.filter((p) => ctx.isServerAdmin || !p[3])
    .map(([id, label]) => h('a', { href: '#/' + id, 'data-page': id, id: 'nav-' + id }, label)));
}

function showBanner() {
  const b = $('banner');
  if (!(ctx.isServerAdmin && apiState.emptyAdminPassword)) {
    b.classList.add('hidden');
    b.replaceChildren();
    return;
  }
  if (!b.classList.contains('hidden')) return;
  const pw1 = h('input', { type: 'password', id: 'banner-pw1', autocomplete: 'new-password', required: true });
  const pw2 = h('input', { type: 'password', id: 'banner-pw2', autocomplete: 'new-password', required: true });
  const err = h('span.error', { role: 'alert' });
  const f = h('form', { id: 'banner-form' },
    h('label', {}, 'New password', pw1), h('label', {}, 'Repeat', pw2),
    h('button', { type: 'submit' }, 'Set password'), err);
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (pw1.value !== pw2.value) { err.textContent = 'The two passwords differ.'; return; }
    if (!pw1.value) { err.textContent = 'Choose a non-empty password.'; return; }
    try {
      await call('SetServerPassword', { PlainTextPassword_str: pw1.value });
      ctx.passwordChanged(pw1.value);
      apiState.emptyAdminPassword = false;
      showBanner();
      toast('Server administrator password set.');
    } catch (e) { err.textContent = e.message; }
  });
  b.replaceChildren(
    h('strong', {}, 'Warning: the server administrator password is empty. '),
    'Anyone who can connect from this machine administers the server. Set a password now.', f);
  b.classList.remove('hidden');
}

async function login(ev) {
  ev.preventDefault();
  const hub = $('login-hub').value.trim();
  const pw = $('login-password').value;
  const err = $('login-error');
  err.textContent = '';
  $('login-submit').disabled = true;
  setCredentials(hub, pw);
  try {
    // `Test` proves the credentials; a hub administrator then reads its hub.
    await call('Test', { IntValue_u32: 1 });
    ctx.isServerAdmin = !hub || hub.toLowerCase() === 'administrator';
    if (!ctx.isServerAdmin) {
      await call('GetHubStatus', { HubName_str: hub });
      ctx.hub = hub;
    }
  } catch (e) {
    clearCredentials();
    err.textContent = e.code === 401 ? 'Login refused: the password or the hub name is wrong, or too many attempts were made (wait and retry).' : e.message;
    $('login-submit').disabled = false;
    return;
  }
  $('login-password').value = '';
  $('login-submit').disabled = false;
  $('login').classList.add('hidden');
  $('page').classList.remove('hidden');
  $('nav').classList.remove('hidden');
  $('logout').classList.remove('hidden');
  $('who').textContent = ctx.isServerAdmin ? 'Server administrator' : 'Administrator of hub ' + hub;
  buildNav();
  if (!location.hash) location.hash = '#/dashboard';
  else render();
  $('main').focus();
}

function logout(message) {
  clearCredentials();
  ctx.timers.forEach(clearInterval);
  ctx.timers = [];
  ctx.generation += 1;
  ctx.isServerAdmin = false;
  ctx.hub = '';
  $('page').replaceChildren();
  $('page').classList.add('hidden');
  $('nav').classList.add('hidden');
  $('nav').replaceChildren();
  $('logout').classList.add('hidden');
  $('banner').classList.add('hidden');
  $('who').textContent = '';
  $('login').classList.remove('hidden');
  $('login-error').textContent = message || '';
  $('login-hub').focus();
}

$('login-form').addEventListener('submit', login);
$('logout').addEventListener('click', () => logout(''));
window.addEventListener('hashchange', () => {
  if (!$('page').classList.contains('hidden')) render();
});
$('login-hub').focus();
