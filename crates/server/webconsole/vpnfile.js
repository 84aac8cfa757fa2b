// SoftEther VPN connection setting file (.vpn), the text the SoftEther VPN
// Client imports with `AccountImport` (SoftEther src/Cedar/Client.c:
// CiAccountToCfg → CiWriteAccountData, CiWriteClientOption,
// CiWriteClientAuth; text form of docs/config-format.md). Generated in the
// browser from what the API returns; no password unless asked for, and then
// only the user's stored hash (SHA-0(password ‖ UPPER(user)), which the
// client sends like a typed password).

/** CfgEscape: empty → `$`; bytes < 0x20, space, `$` → `$` + two upper-case hex digits. */
export function cfgEscape(s) {
  if (s === '') return '$';
  let out = '';
  for (const ch of String(s)) {
    const c = ch.codePointAt(0);
    out += c < 0x20 || ch === ' ' || ch === '$' ? '$' + c.toString(16).toUpperCase().padStart(2, '0') : ch;
  }
  return out;
}

/**
 * The file's text. `o`: { accountName, host, port, hub, user, nic,
 * hashedKeyB64 (or ''), serverCertB64 (or ''), checkServerCert }.
 */
export function vpnFileText(o) {
  const esc = cfgEscape;
  const lines = [
    '# VPN Client VPN Connection Setting File',
    '# ',
    '# This file was exported by the RustEther VPN Server web console.',
    '# Import it with the SoftEther VPN Client: vpncmd /CLIENT localhost /CMD AccountImport <file>',
    o.hashedKeyB64 ? '# It contains the password hash of the user: keep it secret.'
      : '# It contains no password: set it with AccountPasswordSet (or the Client Manager).',
    '',
    'declare root',
    '{',
    '\tbool CheckServerCert ' + (o.checkServerCert && o.serverCertB64 ? 'true' : 'false'),
    '\tuint64 CreateDateTime 0',
    '\tuint64 LastConnectDateTime 0',
    '\tbool RetryOnServerCert false',
  ];
  if (o.serverCertB64) lines.push('\tbyte ServerCert ' + esc(o.serverCertB64));
  lines.push(
    '\tbool StartupAccount false',
    '\tuint64 UpdateDateTime 0',
    '',
    '\tdeclare ClientAuth',
    '\t{',
    '\t\tuint AuthType 1',
  );
  if (o.hashedKeyB64) lines.push('\t\tbyte HashedPassword ' + esc(o.hashedKeyB64));
  lines.push(
    '\t\tstring Username ' + esc(o.user),
    '\t}',
    '\tdeclare ClientOption',
    '\t{',
    '\t\tstring AccountName ' + esc(o.accountName),
    '\t\tuint AdditionalConnectionInterval 1',
    '\t\tuint ConnectionDisconnectSpan 0',
    '\t\tstring DeviceName ' + esc(o.nic),
    '\t\tbool DisableQoS false',
    '\t\tbool HalfConnection false',
    '\t\tbool HideNicInfoWindow false',
    '\t\tbool HideStatusWindow false',
    '\t\tstring Hostname ' + esc(o.host),
    '\t\tstring HubName ' + esc(o.hub),
    '\t\tuint MaxConnection 1',
    '\t\tbool NoRoutingTracking false',
    '\t\tbool NoUdpAcceleration false',
    '\t\tuint NumRetry 4294967295',
    '\t\tuint Port ' + Number(o.port),
    '\t\tuint PortUDP 0',
    '\t\tstring ProxyName $',
    '\t\tbyte ProxyPassword $',
    '\t\tuint ProxyPort 0',
    '\t\tuint ProxyType 0',
    '\t\tstring ProxyUsername $',
    '\t\tbool RequireBridgeRoutingMode false',
    '\t\tbool RequireMonitorMode false',
    '\t\tuint RetryInterval 15',
    '\t\tbool UseCompress false',
    '\t\tbool UseEncrypt true',
    '\t}',
    '}',
    '',
  );
  return lines.join('\r\n');
}

/** A file name for the account: letters, digits, `-_.@` kept. */
export function vpnFileName(hub, user) {
  return (user + '@' + hub).replace(/[^\w.@-]/g, '_') + '.vpn';
}

/** This server's address as the browser reached it (IPv6 without brackets). */
export function serverAddress() {
  const host = location.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(location.port) || 443;
  return { host, port };
}

// ---------- OpenVPN (.ovpn)

/**
 * The entries of a zip archive whose entries are "stored" (method 0), as
 * the server's `MakeOpenVpnConfigFile` writes it (SoftEther's ZipPacker
 * does the same): [{ name, bytes }]. Walks the local file headers
 * (PKWARE APPNOTE 4.3.7); stops at the first other record. Compressed or
 * truncated entries are skipped.
 */
export function storedZipEntries(bytes) {
  const out = [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  while (p + 30 <= bytes.length && dv.getUint32(p, true) === 0x04034b50) {
    const method = dv.getUint16(p + 8, true);
    const size = dv.getUint32(p + 18, true);
    const nameLen = dv.getUint16(p + 26, true);
    const extraLen = dv.getUint16(p + 28, true);
    const start = p + 30 + nameLen + extraLen;
    if (start + size > bytes.length) break;
    const name = new TextDecoder().decode(bytes.subarray(p + 30, p + 30 + nameLen));
    if (method === 0) out.push({ name, bytes: bytes.subarray(start, start + size) });
    p = start + size;
  }
  return out;
}

/**
 * An `.ovpn` file for one user from the server's sample (`text`, one of the
 * files of `MakeOpenVpnConfigFile`): `proto`/`remote` set to `o.proto`
 * ('udp' | 'tcp'), `o.host`, `o.port`, and the `auth-user-pass` line
 * replaced by an inline block with `o.login` (USER@HUB) and, only when
 * given, `o.password` in clear. A user name alone inline needs OpenVPN 2.6
 * (it then asks for the password); older clients read a bare
 * `auth-user-pass` (docs/web-console.md).
 */
export function ovpnFileText(text, o) {
  const esc = (s) => String(s).replace(/[\r\n]/g, '');
  const lines = String(text).replace(/\r\n/g, '\n').split('\n');
  const out = [];
  for (const line of lines) {
    const word = line.trim().split(/\s+/)[0];
    if (word === 'proto') out.push('proto ' + (o.proto === 'tcp' ? 'tcp' : 'udp'));
    else if (word === 'remote') out.push('remote ' + esc(o.host) + ' ' + Number(o.port));
    else if (word === 'auth-user-pass') {
      out.push('<auth-user-pass>', esc(o.login));
      if (o.password) out.push(esc(o.password));
      out.push('</auth-user-pass>');
    } else out.push(line);
  }
  return out.join('\n');
}

/** A file name for the user's OpenVPN profile. */
export function ovpnFileName(hub, user) {
  return (user + '@' + hub).replace(/[^\w.@-]/g, '_') + '.ovpn';
}
