// The console's pages. Each page is a function (ctx) → Promise<Node> that
// reads through the JSON-RPC API and renders; actions call the API and
// re-render the page. Only RPCs of the server's dispatch table are used
// (docs/web-console.md lists them per page).

import { call, toBase64, fromBase64, bytesFromBase64, state as apiState } from './api.js';
import {
  h, kv, table, confirmButton, button, field, form, download, card, toast, fmtTime, fmtBytes, bare,
} from './ui.js';
import { TrafficGraph } from './graph.js';
import {
  vpnFileText, vpnFileName, serverAddress, storedZipEntries, ovpnFileText, ovpnFileName,
} from './vpnfile.js';

// ---------- helpers

const sum = (o, prefix, keys = ['UnicastBytes_u64', 'BroadcastBytes_u64']) =>
  keys.reduce((a, k) => a + (Number(o[prefix + k]) || 0), 0);

/** `_dt` value of a datetime-local input ('' → 0 = none). */
function dtValue(local) {
  if (!local) return 0;
  const d = new Date(local);
  return isNaN(d) ? 0 : d.toISOString();
}

/** datetime-local text of a `_dt` value ('' for none). */
function dtLocal(dt) {
  if (!dt || dt.startsWith('1970-01-01T09:00:00')) return '';
  const d = new Date(dt);
  if (isNaN(d)) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

const AUTH_TYPES = { 0: 'Anonymous', 1: 'Password', 2: 'Certificate', 3: 'Signed certificate', 4: 'RADIUS', 5: 'NT domain' };

/** The hub picker of hub-scoped pages (a hub administrator has only its hub). */
async function hubPicker(ctx) {
  if (!ctx.isServerAdmin) return h('p.muted', {}, 'Virtual Hub: ', h('strong', {}, ctx.hub));
  const hubs = (await call('EnumHub')).HubList || [];
  if (!ctx.hub || !hubs.some((x) => x.HubName_str === ctx.hub)) ctx.hub = hubs.length ? hubs[0].HubName_str : '';
  const sel = h('select', { id: 'hub-select', 'aria-label': 'Virtual Hub' },
    hubs.map((x) => h('option', { value: x.HubName_str, selected: x.HubName_str === ctx.hub }, x.HubName_str)));
  sel.addEventListener('change', () => { ctx.hub = sel.value; ctx.render(); });
  return h('label', {}, 'Virtual Hub', sel);
}

function noHub() {
  return card(null, h('p', {}, 'There is no Virtual Hub yet. Create one on the ', h('a', { href: '#/hubs' }, 'Virtual Hubs'), ' page.'));
}

// ---------- dashboard

export async function dashboard(ctx) {
  const root = h('div');
  const graphCanvas = h('canvas.graph', { id: 'traffic-graph', role: 'img', 'aria-label': 'Traffic of the last two minutes' });
  const graph = new TrafficGraph(graphCanvas);
  const liveText = h('p.muted', { id: 'traffic-now' }, 'Measuring…');
  let status;
  if (ctx.isServerAdmin) {
    const [info, st, hubs] = await Promise.all([call('GetServerInfo'), call('GetServerStatus'), call('EnumHub')]);
    status = st;
    root.append(
      h('h2', {}, 'Dashboard'),
      h('div.grid', {},
        card('Sessions', h('p.stat', { id: 'stat-sessions' }, String(st.NumSessionsTotal_u32)),
          h('p.muted', {}, `${st.NumHubTotal_u32} hubs, ${st.NumUsers_u32} users, ${st.NumTcpConnections_u32} TCP connections`)),
        card('Traffic since start',
          h('p', {}, 'Received: ', fmtBytes(sum(st, 'Recv.'))), h('p', {}, 'Sent: ', fmtBytes(sum(st, 'Send.'))),
          h('p.muted', {}, 'Started ', fmtTime(st.StartTime_dt)))),
      card('Live traffic (all hubs)', graphCanvas,
        h('div.legend', {}, h('span.in', {}, 'received'), h('span.out', {}, 'sent')), liveText),
      card('Virtual Hubs', table([
        ['Hub', (x) => x.HubName_str],
        ['Status', (x) => (x.Online_bool ? 'Online' : 'Offline')],
        ['Sessions', (x) => String(x.NumSessions_u32)],
        ['Users', (x) => String(x.NumUsers_u32)],
        ['Received', (x) => fmtBytes(sum(x, 'Ex.Recv.'))],
        ['Sent', (x) => fmtBytes(sum(x, 'Ex.Send.'))],
        ['Last communication', (x) => fmtTime(x.LastCommTime_dt)],
      ], hubs.HubList || [], 'Sessions and traffic per hub')),
      h('div.grid', {}, card('Server information', kv(info)), card('Server status', kv(st))),
      passwordCard(ctx),
    );
  } else {
    status = await call('GetHubStatus', { HubName_str: ctx.hub });
    root.append(
      h('h2', {}, 'Dashboard'),
      h('div.grid', {},
        card('Sessions', h('p.stat', { id: 'stat-sessions' }, String(status.NumSessions_u32))),
        card('Traffic', h('p', {}, 'Received: ', fmtBytes(sum(status, 'Recv.'))), h('p', {}, 'Sent: ', fmtBytes(sum(status, 'Send.'))))),
      card('Live traffic of hub ' + ctx.hub, graphCanvas,
        h('div.legend', {}, h('span.in', {}, 'received'), h('span.out', {}, 'sent')), liveText),
      card('Hub status', kv(status)),
    );
  }
  const poll = async () => {
    const st = ctx.isServerAdmin ? await call('GetServerStatus') : await call('GetHubStatus', { HubName_str: ctx.hub });
    const rx = sum(st, 'Recv.'), tx = sum(st, 'Send.');
    graph.push(performance.now(), rx, tx);
    const last = graph.samples[graph.samples.length - 1];
    if (last) liveText.textContent = `now: ${fmtBytes(last.rx)}/s received, ${fmtBytes(last.tx)}/s sent`;
  };
  graph.push(performance.now(), sum(status, 'Recv.'), sum(status, 'Send.'));
  ctx.every(2000, poll);
  return root;
}

/** Form to change the server administrator password (`SetServerPassword`). */
export function passwordCard(ctx, title = 'Server administrator password') {
  return card(title, form([
    field('New password', 'pw1', '', { type: 'password', required: true }),
    field('Repeat', 'pw2', '', { type: 'password', required: true }),
  ], 'Set password', async (v) => {
    if (v.pw1 !== v.pw2) throw new Error('The two passwords differ.');
    await call('SetServerPassword', { PlainTextPassword_str: v.pw1 });
    ctx.passwordChanged(v.pw1);
    toast('Server administrator password set.');
  }, 'server-password-form'));
}

// ---------- virtual hubs

export async function hubs(ctx) {
  const list = (await call('EnumHub')).HubList || [];
  const editArea = h('div');
  const edit = async (name) => {
    const hub = await call('GetHub', { HubName_str: name });
    editArea.replaceChildren(card('Options of hub ' + name, form([
      field('Online', 'online', hub.Online_bool, { type: 'checkbox' }),
      field('Maximum number of sessions (0 = no limit)', 'max', hub.MaxSession_u32, { type: 'number', min: 0 }),
      field('Hide from anonymous hub listing (NoEnum)', 'noenum', hub.NoEnum_bool, { type: 'checkbox' }),
      field('New hub administrator password (empty = unchanged)', 'pw', '', { type: 'password' }),
    ], 'Save options', async (v) => {
      const p = {
        HubName_str: name, HubType_u32: 0, Online_bool: v.online, MaxSession_u32: Number(v.max) || 0,
        NoEnum_bool: v.noenum,
      };
      if (v.pw) p.AdminPasswordPlainText_str = v.pw;
      await call('SetHub', p);
      toast('Hub ' + name + ' saved.');
      ctx.render();
    }, 'hub-options-form')));
    editArea.querySelector('input')?.focus();
  };
  const rows = table([
    ['Hub', (x) => x.HubName_str],
    ['Status', (x) => (x.Online_bool ? 'Online' : 'Offline')],
    ['Sessions', (x) => String(x.NumSessions_u32)],
    ['Users', (x) => String(x.NumUsers_u32)],
    ['Groups', (x) => String(x.NumGroups_u32)],
    ['Created', (x) => fmtTime(x.CreatedTime_dt)],
    ['Actions', (x) => h('div.actions', {},
      button('Manage users', async () => { ctx.hub = x.HubName_str; location.hash = '#/users'; }),
      button(x.Online_bool ? 'Set offline' : 'Set online', async () => {
        await call('SetHubOnline', { HubName_str: x.HubName_str, Online_bool: !x.Online_bool });
        ctx.render();
      }),
      button('Options', () => edit(x.HubName_str)),
      ctx.isServerAdmin ? confirmButton('Delete', async () => {
        await call('DeleteHub', { HubName_str: x.HubName_str });
        toast('Hub ' + x.HubName_str + ' deleted.');
        ctx.render();
      }) : null)],
  ], list, 'Virtual Hubs');
  return h('div', {}, h('h2', {}, 'Virtual Hubs'), card(null, rows), editArea,
    ctx.isServerAdmin ? card('Create a Virtual Hub', form([
      field('Name', 'name', '', { required: true }),
      field('Hub administrator password (optional)', 'pw', '', { type: 'password' }),
      field('Online', 'online', true, { type: 'checkbox' }),
    ], 'Create hub', async (v) => {
      await call('CreateHub', { HubName_str: v.name.trim(), HubType_u32: 0, Online_bool: v.online, AdminPasswordPlainText_str: v.pw });
      toast('Hub ' + v.name + ' created.');
      ctx.hub = v.name.trim();
      ctx.render();
    }, 'create-hub-form')) : null);
}

// ---------- users and groups

/**
 * Every policy field with SoftEther's defaults (`GetDefaultPolicy` in
 * src/Cedar/Account.c: Access, MaxConnection 32, TimeOut 20), used when an
 * account has no policy yet (its Get answer then has no `policy:` fields).
 */
const POLICY_DEFAULT = Object.fromEntries([
  ...['Access', 'DHCPFilter', 'DHCPNoServer', 'DHCPForce', 'NoBridge', 'NoRouting', 'CheckMac', 'CheckIP',
    'ArpDhcpOnly', 'PrivacyFilter', 'NoServer', 'NoBroadcastLimiter', 'MonitorPort', 'FixPassword', 'NoQoS',
    'RSandRAFilter', 'RAFilter', 'DHCPv6Filter', 'DHCPv6NoServer', 'NoRoutingV6', 'CheckIPv6', 'NoServerV6',
    'NoSavePassword', 'FilterIPv4', 'FilterIPv6', 'FilterNonIP', 'NoIPv6DefaultRouterInRA',
    'NoIPv6DefaultRouterInRAWhenIPv6'].map((k) => ['policy:' + k + '_bool', k === 'Access']),
  ...['MaxConnection', 'TimeOut', 'MaxMac', 'MaxIP', 'MaxUpload', 'MaxDownload', 'MultiLogins', 'MaxIPv6',
    'AutoDisconnect', 'VLanId'].map((k) => ['policy:' + k + '_u32', { MaxConnection: 32, TimeOut: 20 }[k] || 0]),
  ['policy:Ver3_bool', true],
]);

/** Policy editor: a check box or number per policy field (`obj`'s values, else the defaults). */
function policyFields(obj) {
  obj = { ...POLICY_DEFAULT, ...obj };
  const keys = Object.keys(obj).filter((k) => k.startsWith('policy:') && k !== 'policy:Ver3_bool');
  return h('details', {}, h('summary', {}, 'Security policy'),
    field('Use a policy for this account (UsePolicy)', 'UsePolicy_bool', obj.UsePolicy_bool, { type: 'checkbox' }),
    h('div.policy', {}, keys.map((k) => (k.endsWith('_bool')
      ? field(bare(k.slice(7)), k, obj[k], { type: 'checkbox' })
      : field(bare(k.slice(7)), k, obj[k], { type: 'number', min: 0 })))));
}

/** Copies the policy values of a form back into `p`. */
function applyPolicy(p, v) {
  if (v.UsePolicy_bool) {
    for (const [k, d] of Object.entries(POLICY_DEFAULT)) if (!(k in p)) p[k] = d;
  }
  for (const [k, val] of Object.entries(v)) {
    if (k === 'UsePolicy_bool') p[k] = val;
    else if (k.startsWith('policy:')) p[k] = k.endsWith('_bool') ? val : Number(val) || 0;
  }
}

/** Drops statistics of a Get answer before it is sent back with Set. */
function settable(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) {
    if (/^(Ex\.)?(Recv|Send)\./.test(k) || k === 'NumLogin_u32') continue;
    out[k] = v;
  }
  return out;
}

/**
 * The OpenVPN profile card of a user: the server's sample files
 * (`MakeOpenVpnConfigFile`, a zip) turned into one `.ovpn` with this
 * address, the chosen transport and layer, and the user name inline.
 */
async function ovpnCard(hub, name) {
  let enabled = false;
  let udpPorts = [];
  try { enabled = !!(await call('GetOpenVpnSstpConfig')).EnableOpenVPN_bool; } catch { enabled = false; }
  try {
    const p = (await call('GetPortsUDP')).Ports_u32;
    udpPorts = (Array.isArray(p) ? p : p === undefined ? [] : [p]).filter((x) => x > 0);
  } catch { udpPorts = []; }
  const addr = serverAddress();
  const transports = [
    ...udpPorts.map((p) => ['udp:' + p, 'UDP ' + p]),
    ['tcp:' + addr.port, 'TCP ' + addr.port + ' (this listener)'],
  ];
  const preview = h('pre.file', { id: 'ovpn-preview', tabindex: '0' });
  const f = form([
    h('p', {}, 'An OpenVPN client profile (', h('code', {}, 'openvpn --config'), '), logging in as ',
      h('code', {}, name + '@' + hub), '.'),
    enabled ? null : h('p.warn', {}, 'OpenVPN is switched off on this server: enable it (vpncmd ',
      h('code', {}, 'ProtoOptionsSet OpenVPN /NAME:Enabled /VALUE:yes'), ') before the profile can connect.'),
    field('Server address', 'host', addr.host, { required: true }),
    field('Transport', 'transport', transports[0][0], { type: 'select', options: transports }),
    field('Layer', 'layer', 'l2', { type: 'select', options: [['l2', 'Layer 2 (dev tap)'], ['l3', 'Layer 3 (dev tun)']] }),
    field('Password to include in clear (empty = the client asks for it)', 'pw', '', { type: 'password', autocomplete: 'new-password' }),
  ], 'Download .ovpn file', async (v) => {
    const zip = await call('MakeOpenVpnConfigFile');
    const entries = storedZipEntries(bytesFromBase64(zip.Buffer_bin));
    const sample = entries.find((e) => e.name.endsWith('_' + v.layer + '.ovpn'));
    if (!sample) throw new Error('The server sent no ' + v.layer + ' sample file.');
    const [proto, port] = v.transport.split(':');
    const text = ovpnFileText(new TextDecoder().decode(sample.bytes), {
      proto, host: v.host.trim(), port: Number(port), login: name + '@' + hub, password: v.pw,
    });
    preview.textContent = v.pw ? text.replace(/(<auth-user-pass>\n[^\n]*\n)[^\n]*/, '$1********') : text;
    download(ovpnFileName(hub, name), text);
    toast('OpenVPN profile created.');
  }, 'ovpn-file-form');
  return card('OpenVPN profile for ' + name, f, preview);
}

export async function users(ctx) {
  const picker = await hubPicker(ctx);
  if (!ctx.hub) return h('div', {}, h('h2', {}, 'Users and groups'), picker, noHub());
  const hub = ctx.hub;
  const [ul, gl] = await Promise.all([call('EnumUser', { HubName_str: hub }), call('EnumGroup', { HubName_str: hub })]);
  const editArea = h('div#user-edit');
  const groupOptions = [['', '(none)'], ...(gl.GroupList || []).map((g) => [g.Name_str, g.Name_str])];

  const editUser = async (name) => {
    const u = await call('GetUser', { HubName_str: hub, Name_str: name });
    editArea.replaceChildren(card('User ' + name, form([
      field('Full name', 'real', u.Realname_utf),
      field('Note', 'note', u.Note_utf),
      field('Group', 'group', u.GroupName_str, { type: 'select', options: groupOptions }),
      field('Expires (empty = never)', 'expires', dtLocal(u.ExpireTime_dt), { type: 'datetime-local' }),
      u.AuthType_u32 === 1 ? field('New password (empty = unchanged)', 'pw', '', { type: 'password' }) : null,
      policyFields(u),
    ], 'Save user', async (v) => {
      const p = settable(u);
      p.Realname_utf = v.real; p.Note_utf = v.note; p.GroupName_str = v.group;
      p.ExpireTime_dt = dtValue(v.expires);
      if (v.pw) { p.Auth_Password_str = v.pw; delete p.HashedKey_bin; delete p.NtLmSecureHash_bin; }
      applyPolicy(p, v);
      await call('SetUser', p);
      toast('User ' + name + ' saved.');
      ctx.render();
    }, 'user-edit-form')));
    editArea.querySelector('input')?.focus();
  };

  const onboarding = async (name) => {
    const u = await call('GetUser', { HubName_str: hub, Name_str: name });
    let cert = '';
    try { cert = (await call('GetServerCert')).Cert_bin || ''; } catch { cert = ''; }
    const addr = serverAddress();
    const preview = h('pre.file', { id: 'vpn-preview', tabindex: '0' });
    const f = form([
      h('p', {}, 'A connection setting for the SoftEther VPN Client (', h('code', {}, 'AccountImport'), ').'),
      field('Server address', 'host', addr.host, { required: true }),
      field('Port', 'port', addr.port, { type: 'number', min: 1, max: 65535 }),
      field('Connection name', 'account', name + '@' + hub),
      field('Virtual network adapter of the client', 'nic', 'VPN'),
      field('Check the server certificate (embed this server\'s certificate)', 'check', !!cert, { type: 'checkbox' }),
      field('Include the password hash (anyone with the file can log in)', 'withpw', false, { type: 'checkbox' }),
    ], 'Download .vpn file', async (v) => {
      const text = vpnFileText({
        accountName: v.account, host: v.host.trim(), port: Number(v.port) || 443, hub, user: name, nic: v.nic,
        hashedKeyB64: v.withpw && u.AuthType_u32 === 1 ? u.HashedKey_bin : '', serverCertB64: cert, checkServerCert: v.check,
      });
      preview.textContent = text;
      download(vpnFileName(hub, name), text);
      toast('Connection file created.');
    }, 'vpn-file-form');
    editArea.replaceChildren(card('Connection file for ' + name, f, preview), await ovpnCard(hub, name));
    editArea.querySelector('input')?.focus();
  };

  const editGroup = async (name) => {
    const g = await call('GetGroup', { HubName_str: hub, Name_str: name });
    editArea.replaceChildren(card('Group ' + name, form([
      field('Full name', 'real', g.Realname_utf),
      field('Note', 'note', g.Note_utf),
      policyFields(g),
    ], 'Save group', async (v) => {
      const p = settable(g);
      p.Realname_utf = v.real; p.Note_utf = v.note;
      applyPolicy(p, v);
      await call('SetGroup', p);
      toast('Group ' + name + ' saved.');
      ctx.render();
    }, 'group-edit-form')));
    editArea.querySelector('input')?.focus();
  };

  return h('div', {}, h('h2', {}, 'Users and groups'), picker,
    card('Users', table([
      ['User', (x) => x.Name_str],
      ['Full name', (x) => x.Realname_utf],
      ['Group', (x) => x.GroupName_str],
      ['Auth', (x) => AUTH_TYPES[x.AuthType_u32] || String(x.AuthType_u32)],
      ['Logins', (x) => String(x.NumLogin_u32)],
      ['Last login', (x) => fmtTime(x.LastLoginTime_dt)],
      ['Expires', (x) => fmtTime(x.Expires_dt)],
      ['Actions', (x) => h('div.actions', {},
        button('Edit', () => editUser(x.Name_str)),
        button('Connection file', () => onboarding(x.Name_str)),
        confirmButton('Delete', async () => {
          await call('DeleteUser', { HubName_str: hub, Name_str: x.Name_str });
          toast('User ' + x.Name_str + ' deleted.');
          ctx.render();
        }))],
    ], ul.UserList || [], 'Users of hub ' + hub)),
    editArea,
    card('Create a user', form([
      field('User name', 'name', '', { required: true }),
      field('Full name', 'real', ''),
      field('Note', 'note', ''),
      field('Group', 'group', '', { type: 'select', options: groupOptions }),
      field('Password', 'pw', '', { type: 'password', required: true }),
      field('Expires (empty = never)', 'expires', '', { type: 'datetime-local' }),
    ], 'Create user', async (v) => {
      await call('CreateUser', {
        HubName_str: hub, Name_str: v.name.trim(), Realname_utf: v.real, Note_utf: v.note, GroupName_str: v.group,
        AuthType_u32: 1, Auth_Password_str: v.pw, ExpireTime_dt: dtValue(v.expires),
      });
      toast('User ' + v.name + ' created.');
      ctx.render();
    }, 'create-user-form')),
    card('Groups', table([
      ['Group', (x) => x.Name_str],
      ['Full name', (x) => x.Realname_utf],
      ['Members', (x) => String(x.NumUsers_u32)],
      ['Actions', (x) => h('div.actions', {},
        button('Edit', () => editGroup(x.Name_str)),
        confirmButton('Delete', async () => {
          await call('DeleteGroup', { HubName_str: hub, Name_str: x.Name_str });
          ctx.render();
        }))],
    ], gl.GroupList || [], 'Groups of hub ' + hub)),
    card('Create a group', form([
      field('Group name', 'name', '', { required: true }),
      field('Full name', 'real', ''),
      field('Note', 'note', ''),
    ], 'Create group', async (v) => {
      await call('CreateGroup', { HubName_str: hub, Name_str: v.name.trim(), Realname_utf: v.real, Note_utf: v.note });
      ctx.render();
    }, 'create-group-form')));
}

// ---------- sessions

export async function sessions(ctx) {
  const picker = await hubPicker(ctx);
  if (!ctx.hub) return h('div', {}, h('h2', {}, 'Sessions'), picker, noHub());
  const hub = ctx.hub;
  const list = (await call('EnumSession', { HubName_str: hub })).SessionList || [];
  const detail = h('div#session-detail');
  ctx.every(5000, async () => {
    const now = (await call('EnumSession', { HubName_str: hub })).SessionList || [];
    const key = (l) => l.map((s) => s.Name_str).join('\n');
    if (key(now) !== key(list)) ctx.render();
  });
  return h('div', {}, h('h2', {}, 'Sessions'), picker,
    card(null, table([
      ['Session', (x) => x.Name_str],
      ['User', (x) => x.Username_str],
      ['Source', (x) => x.Hostname_str || x.Ip_ip],
      ['TCP', (x) => `${x.CurrentNumTcp_u32}/${x.MaxNumTcp_u32}`],
      ['Transferred', (x) => fmtBytes(x.PacketSize_u64)],
      ['Since', (x) => fmtTime(x.CreatedTime_dt)],
      ['Actions', (x) => h('div.actions', {},
        button('Details', async () => {
          const st = await call('GetSessionStatus', { HubName_str: hub, Name_str: x.Name_str });
          detail.replaceChildren(card('Session ' + x.Name_str, kv(st)));
          detail.querySelector('h3')?.scrollIntoView();
        }),
        confirmButton('Disconnect', async () => {
          await call('DeleteSession', { HubName_str: hub, Name_str: x.Name_str });
          toast('Session ' + x.Name_str + ' disconnected.');
          ctx.render();
        }))],
    ], list, 'Sessions of hub ' + hub)), detail);
}

// ---------- listeners (server administrator)

export async function listeners(ctx) {
  const list = (await call('EnumListener')).ListenerList || [];
  return h('div', {}, h('h2', {}, 'Listeners'),
    card(null, table([
      ['TCP port', (x) => String(x.Ports_u32)],
      ['State', (x) => (x.Errors_bool ? 'Error (port in use?)' : x.Enables_bool ? 'Listening' : 'Stopped')],
      ['Actions', (x) => h('div.actions', {},
        button(x.Enables_bool ? 'Stop' : 'Start', async () => {
          await call('EnableListener', { Port_u32: x.Ports_u32, Enable_bool: !x.Enables_bool });
          ctx.render();
        }),
        confirmButton('Delete', async () => {
          await call('DeleteListener', { Port_u32: x.Ports_u32 });
          ctx.render();
        }))],
    ], list, 'TCP listeners')),
    card('Add a listener', form([field('TCP port', 'port', '', { type: 'number', min: 1, max: 65535, required: true })],
      'Add listener', async (v) => {
        await call('CreateListener', { Port_u32: Number(v.port), Enable_bool: true });
        ctx.render();
      }, 'create-listener-form')));
}

// ---------- local bridges (server administrator)

export async function bridges(ctx) {
  const [lb, support] = await Promise.all([call('EnumLocalBridge'), call('GetBridgeSupport')]);
  let eth = [];
  try { eth = (await call('EnumEthernet')).EthList || []; } catch { eth = []; }
  const hubsList = (await call('EnumHub')).HubList || [];
  return h('div', {}, h('h2', {}, 'Local bridges'),
    support.IsBridgeSupportedOs_bool ? null : card(null, h('p.error', {}, 'This system does not support local bridges.')),
    card(null, table([
      ['Hub', (x) => x.HubNameLB_str],
      ['Device', (x) => x.DeviceName_str],
      ['Tap', (x) => (x.TapMode_bool ? 'Yes' : 'No')],
      ['Status', (x) => (!x.Online_bool ? 'Offline' : x.Active_bool ? 'Operating' : 'Error')],
      ['Actions', (x) => confirmButton('Delete', async () => {
        await call('DeleteLocalBridge', { HubNameLB_str: x.HubNameLB_str, DeviceName_str: x.DeviceName_str });
        ctx.render();
      })],
    ], lb.LocalBridgeList || [], 'Local bridges')),
    card('Add a local bridge', form([
      field('Virtual Hub', 'hub', ctx.hub, { type: 'select', options: hubsList.map((x) => [x.HubName_str, x.HubName_str]) }),
      field('Network adapter (or new tap name)', 'dev', eth.length ? eth[0].DeviceName_str : '', { required: true }),
      h('p.muted', {}, 'Adapters: ', eth.map((e) => e.DeviceName_str).join(', ') || 'none found'),
      field('Create a tap device (TapMode)', 'tap', false, { type: 'checkbox' }),
    ], 'Add bridge', async (v) => {
      await call('AddLocalBridge', { HubNameLB_str: v.hub, DeviceName_str: v.dev.trim(), TapMode_bool: v.tap });
      ctx.render();
    }, 'create-bridge-form')));
}

// ---------- cascades

export async function cascades(ctx) {
  const picker = await hubPicker(ctx);
  if (!ctx.hub) return h('div', {}, h('h2', {}, 'Cascades'), picker, noHub());
  const hub = ctx.hub;
  const list = (await call('EnumLink', { HubName_str: hub })).LinkList || [];
  const detail = h('div');
  ctx.every(5000, async () => {
    const now = (await call('EnumLink', { HubName_str: hub })).LinkList || [];
    const key = (l) => l.map((x) => `${x.AccountName_utf}/${x.Online_bool}/${x.Connected_bool}/${x.LastError_u32}`).join('\n');
    if (key(now) !== key(list)) ctx.render();
  });
  return h('div', {}, h('h2', {}, 'Cascades'), picker,
    card(null, table([
      ['Name', (x) => x.AccountName_utf],
      ['Server', (x) => x.Hostname_str],
      ['Remote hub', (x) => x.TargetHubName_str],
      ['Status', (x) => (!x.Online_bool ? 'Offline' : x.Connected_bool ? 'Online (connected)'
        : 'Connecting' + (x.LastError_u32 ? ` (error ${x.LastError_u32})` : ''))],
      ['Since', (x) => fmtTime(x.ConnectedTime_dt)],
      ['Actions', (x) => h('div.actions', {},
        button(x.Online_bool ? 'Set offline' : 'Set online', async () => {
          await call(x.Online_bool ? 'SetLinkOffline' : 'SetLinkOnline', { HubName_str: hub, AccountName_utf: x.AccountName_utf });
          ctx.render();
        }),
        button('Status', async () => {
          const st = await call('GetLinkStatus', { HubName_Ex_str: hub, AccountName_utf: x.AccountName_utf });
          detail.replaceChildren(card('Cascade ' + x.AccountName_utf, kv(st)));
        }),
        confirmButton('Delete', async () => {
          await call('DeleteLink', { HubName_str: hub, AccountName_utf: x.AccountName_utf });
          ctx.render();
        }))],
    ], list, 'Cascades of hub ' + hub)), detail,
    card('Create a cascade', form([
      field('Name', 'name', '', { required: true }),
      field('Server host name or address', 'host', '', { required: true }),
      field('Port', 'port', 443, { type: 'number', min: 1, max: 65535 }),
      field('Remote Virtual Hub', 'rhub', '', { required: true }),
      field('User name', 'user', '', { required: true }),
      field('Password', 'pw', '', { type: 'password' }),
      field('Connect now', 'online', true, { type: 'checkbox' }),
    ], 'Create cascade', async (v) => {
      await call('CreateLink', {
        HubName_Ex_str: hub, AccountName_utf: v.name.trim(), Hostname_str: v.host.trim(), Port_u32: Number(v.port) || 443,
        HubName_str: v.rhub.trim(), AuthType_u32: 2, Username_str: v.user.trim(), PlainPassword_str: v.pw,
        UseEncrypt_bool: true, MaxConnection_u32: 1, Online_bool: v.online,
      });
      ctx.render();
    }, 'create-cascade-form')));
}

// ---------- access lists

const PROTOCOLS = [['0', 'any'], ['6', 'TCP'], ['17', 'UDP'], ['1', 'ICMP (v4)'], ['58', 'ICMPv6']];

/** "addr/mask" of one side of an IPv4 rule ("any" for 0.0.0.0/0.0.0.0). */
function ruleNet(ip, mask) {
  if (!ip || (ip === '0.0.0.0' && (!mask || mask === '0.0.0.0'))) return 'any';
  return mask && mask !== '255.255.255.255' ? ip + '/' + mask : ip;
}

function rulePorts(a, b) {
  if (!a && !b) return '';
  return a === b || !b ? ':' + a : ':' + a + '-' + b;
}

/** The fields of an `EnumAccess` entry that `SetAccessList` takes back. */
function accessEntry(x, active) {
  const e = { ...x };
  if (active !== undefined) e.Active_bool = active;
  return e;
}

/**
 * Access lists of a hub (vpncmd AccessList, AccessAdd, AccessDelete,
 * AccessEnable, AccessDisable; RPCs EnumAccess, AddAccess, DeleteAccess,
 * SetAccessList). New rules here are IPv4 rules; IPv6 rules made with
 * vpncmd AccessAdd6 are listed and can be switched or deleted.
 */
export async function access(ctx) {
  const picker = await hubPicker(ctx);
  if (!ctx.hub) return h('div', {}, h('h2', {}, 'Access lists'), picker, noHub());
  const hub = ctx.hub;
  const list = (await call('EnumAccess', { HubName_str: hub })).AccessList || [];
  const proto = (n) => (PROTOCOLS.find(([v]) => Number(v) === Number(n)) || [0, String(n)])[1];
  const setList = async (entries) => {
    await call('SetAccessList', { HubName_str: hub, AccessList: entries });
    ctx.render();
  };
  return h('div', {}, h('h2', {}, 'Access lists'), picker,
    card(null, table([
      ['Id', (x) => String(x.Id_u32)],
      ['Priority', (x) => String(x.Priority_u32)],
      ['Action', (x) => (x.Discard_bool ? 'Discard' : 'Pass')],
      ['State', (x) => (x.Active_bool ? 'Enabled' : 'Disabled')],
      ['Protocol', (x) => proto(x.Protocol_u32)],
      ['Source', (x) => (x.IsIPv6_bool ? 'IPv6 rule' : ruleNet(x.SrcIpAddress_ip, x.SrcSubnetMask_ip))
        + rulePorts(x.SrcPortStart_u32, x.SrcPortEnd_u32) + (x.SrcUsername_str ? ' user ' + x.SrcUsername_str : '')],
      ['Destination', (x) => (x.IsIPv6_bool ? 'IPv6 rule' : ruleNet(x.DestIpAddress_ip, x.DestSubnetMask_ip))
        + rulePorts(x.DestPortStart_u32, x.DestPortEnd_u32) + (x.DestUsername_str ? ' user ' + x.DestUsername_str : '')],
      ['Note', (x) => x.Note_utf],
      ['Actions', (x) => h('div.actions', {},
        button(x.Active_bool ? 'Disable' : 'Enable', () =>
          setList(list.map((y) => accessEntry(y, y.Id_u32 === x.Id_u32 ? !x.Active_bool : undefined)))),
        confirmButton('Delete', async () => {
          await call('DeleteAccess', { HubName_str: hub, Id_u32: x.Id_u32 });
          toast('Rule ' + x.Id_u32 + ' deleted.');
          ctx.render();
        }))],
    ], list, 'Access list of hub ' + hub)),
    card('Add an IPv4 rule', form([
      field('Note', 'note', ''),
      field('Action', 'action', 'discard', { type: 'select', options: [['pass', 'Pass'], ['discard', 'Discard']] }),
      field('Priority (smaller first)', 'priority', 1000, { type: 'number', min: 1, max: 4294967295 }),
      field('Protocol', 'protocol', '0', { type: 'select', options: PROTOCOLS.filter(([v]) => v !== '58') }),
      field('Source address (empty = any)', 'src', '', { placeholder: '10.0.0.0' }),
      field('Source mask', 'srcmask', '255.255.255.255'),
      field('Destination address (empty = any)', 'dst', '', { placeholder: '192.168.30.1' }),
      field('Destination mask', 'dstmask', '255.255.255.255'),
      field('Destination ports (e.g. 80 or 1000-2000; TCP/UDP)', 'dports', ''),
      field('Source user name', 'suser', ''),
      field('Destination user name', 'duser', ''),
    ], 'Add rule', async (v) => {
      const ports = /^\s*(\d+)(?:\s*-\s*(\d+))?\s*$/.exec(v.dports || '');
      if (v.dports && !ports) throw new Error('Ports: a number or a range like 1000-2000.');
      const any = (ip, mask) => (ip.trim() ? [ip.trim(), mask.trim() || '255.255.255.255'] : ['0.0.0.0', '0.0.0.0']);
      const [si, sm] = any(v.src, v.srcmask);
      const [di, dm] = any(v.dst, v.dstmask);
      await call('AddAccess', {
        HubName_str: hub,
        AccessListSingle: [{
          Note_utf: v.note, Active_bool: true, Priority_u32: Number(v.priority) || 1000, Discard_bool: v.action === 'discard',
          Protocol_u32: Number(v.protocol), SrcIpAddress_ip: si, SrcSubnetMask_ip: sm, DestIpAddress_ip: di, DestSubnetMask_ip: dm,
          DestPortStart_u32: ports ? Number(ports[1]) : 0, DestPortEnd_u32: ports ? Number(ports[2] || ports[1]) : 0,
          SrcUsername_str: v.suser.trim(), DestUsername_str: v.duser.trim(),
        }],
      });
      toast('Rule added.');
      ctx.render();
    }, 'add-access-form')));
}

// ---------- SecureNAT

export async function securenat(ctx) {
  const picker = await hubPicker(ctx);
  if (!ctx.hub) return h('div', {}, h('h2', {}, 'SecureNAT'), picker, noHub());
  const hub = ctx.hub;
  const [hs, opt] = await Promise.all([call('GetHubStatus', { HubName_str: hub }), call('GetSecureNATOption', { RpcHubName_str: hub })]);
  const on = hs.SecureNATEnabled_bool;
  let st = null, dhcp = [], nat = [];
  if (on) {
    [st, dhcp, nat] = await Promise.all([
      call('GetSecureNATStatus', { HubName_str: hub }).catch(() => null),
      call('EnumDHCP', { HubName_str: hub }).then((r) => r.DhcpTable || []).catch(() => []),
      call('EnumNAT', { HubName_str: hub }).then((r) => r.NatTable || []).catch(() => []),
    ]);
  }
  const ipFields = ['Ip_ip', 'Mask_ip', 'DhcpLeaseIPStart_ip', 'DhcpLeaseIPEnd_ip', 'DhcpSubnetMask_ip',
    'DhcpGatewayAddress_ip', 'DhcpDnsServerAddress_ip', 'DhcpDnsServerAddress2_ip'];
  const numFields = ['Mtu_u32', 'NatTcpTimeout_u32', 'NatUdpTimeout_u32', 'DhcpExpireTimeSpan_u32'];
  return h('div', {}, h('h2', {}, 'SecureNAT'), picker,
    card('State', h('p', {}, 'SecureNAT is ', h('strong', { id: 'securenat-state' }, on ? 'enabled' : 'disabled'), '.'),
      h('div.actions', {}, button(on ? 'Disable SecureNAT' : 'Enable SecureNAT', async () => {
        await call(on ? 'DisableSecureNAT' : 'EnableSecureNAT', { HubName_str: hub });
        ctx.render();
      }, 'primary')), st ? kv(st, ['HubName_str']) : null),
    card('Virtual host, NAT and DHCP settings', form([
      field('Use virtual NAT', 'UseNat_bool', opt.UseNat_bool, { type: 'checkbox' }),
      field('Use virtual DHCP server', 'UseDhcp_bool', opt.UseDhcp_bool, { type: 'checkbox' }),
      ipFields.map((k) => field(bare(k), k, opt[k])),
      numFields.map((k) => field(bare(k), k, opt[k], { type: 'number', min: 0 })),
      field('DhcpDomainName', 'DhcpDomainName_str', opt.DhcpDomainName_str),
      field('DhcpPushRoutes', 'DhcpPushRoutes_str', opt.DhcpPushRoutes_str),
      field('Save NAT log', 'SaveLog_bool', opt.SaveLog_bool, { type: 'checkbox' }),
    ], 'Save settings', async (v) => {
      const p = { ...opt };
      for (const [k, val] of Object.entries(v)) p[k] = numFields.includes(k) ? Number(val) || 0 : val;
      p.RpcHubName_str = hub;
      await call('SetSecureNATOption', p);
      toast('SecureNAT settings saved.');
      ctx.render();
    }, 'securenat-form')),
    card('DHCP leases', table([
      ['IP', (x) => x.IpAddress_ip], ['MAC', (x) => x.MacAddress_str || x.MacAddress_bin], ['Host', (x) => x.Hostname_str],
      ['Leased', (x) => fmtTime(x.LeasedTime_dt)], ['Expires', (x) => fmtTime(x.ExpireTime_dt)],
    ], dhcp, 'DHCP lease table')),
    card('NAT sessions', table([
      ['Protocol', (x) => String(x.Protocol_u32)], ['Source', (x) => `${x.SrcIp_ip}:${x.SrcPort_u32}`],
      ['Destination', (x) => `${x.DestHost_str || x.DestIp_ip}:${x.DestPort_u32}`],
      ['Sent', (x) => fmtBytes(x.SendSize_u64)], ['Received', (x) => fmtBytes(x.RecvSize_u64)],
      ['Created', (x) => fmtTime(x.CreatedTime_dt)],
    ], nat, 'NAT table')));
}

// ---------- configuration (server administrator)

/** Checks that `text` looks like a SoftEther configuration before upload. */
export function validateConfig(text) {
  if (text.length > 16 * 1024 * 1024) return 'The file is larger than 16 MiB.';
  const body = text.replace(/^\uFEFF/, '');
  if (!/^\s*declare\s+root\s*$/m.test(body)) return 'This is not a configuration file: no "declare root".';
  let depth = 0;
  for (const line of body.split(/\r?\n/)) {
    const t = line.trim();
    if (t === '{') depth++;
    else if (t === '}') depth--;
    if (depth < 0) return 'Unbalanced braces: a "}" without its "{".';
  }
  if (depth !== 0) return 'Unbalanced braces: the file is cut off or a "}" is missing.';
  if (!/declare\s+ListenerList/.test(body)) return 'The configuration has no ListenerList: the server would not be reachable.';
  return null;
}

export async function config(ctx) {
  const cfg = await call('GetConfig');
  const text = fromBase64(cfg.FileData_bin);
  // The server names the file `$vpn_server.config` (SoftEther's name
  // pattern for its own files); a download gets the plain name.
  const name = (cfg.FileName_str || 'vpn_server.config').replace(/^\$/, '') || 'vpn_server.config';
  const input = h('input', { type: 'file', id: 'config-file', accept: '.config,.txt,text/plain' });
  const msg = h('p.error', { role: 'alert', id: 'config-error' });
  return h('div', {}, h('h2', {}, 'Configuration'),
    card('Current configuration',
      h('div.actions', {}, button('Download ' + name, async () => download(name, text, 'text/plain'), 'primary')),
      h('details', {}, h('summary', {}, 'Show the file (' + text.length + ' characters)'), h('pre.file', { tabindex: '0' }, text))),
    card('Upload a configuration',
      h('p', {}, 'The server checks and applies the whole file (SetConfig), then restarts its hubs and listeners. ',
        'A file that does not parse is refused and the running configuration stays.'),
      h('label', {}, 'Configuration file', input),
      h('div.actions', {}, confirmButton('Upload and apply', async () => {
        msg.textContent = '';
        const file = input.files && input.files[0];
        if (!file) { msg.textContent = 'Choose a file first.'; return; }
        const t = await file.text();
        const bad = validateConfig(t);
        if (bad) { msg.textContent = bad; return; }
        try {
          await call('SetConfig', { FileData_bin: toBase64(t) });
          toast('Configuration applied.');
        } catch (e) { msg.textContent = e.message; }
      }, 'primary')), msg));
}

export { apiState };
