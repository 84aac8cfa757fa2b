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
