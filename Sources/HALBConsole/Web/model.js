// Reading the site document and its status: words and classes the views share.

import { h } from './dom.js';

const STATE_CLASSES = {
  OK: 'ok',
  'Not verified': 'bad',
  'Needs update': 'warn',
  Offline: 'bad',
  'Config error': 'bad',
};

/** An agent state (the API's words) as a badge: the words, coloured by class. */
export function stateBadge(state) {
  return h('span', { class: `badge badge-${STATE_CLASSES[state] || 'unknown'}`, dataset: { field: 'state' } }, state || 'Unknown');
}

/** A gateway's configured state in words: `disabled`, `draining` or `enabled`. */
export function gatewayState(gateway) {
  if (!gateway.enabled) return 'disabled';
  if (gateway.drain) return 'draining';
  return 'enabled';
}

export function gatewayBadge(gateway) {
  const state = gatewayState(gateway);
  const kind = { enabled: 'ok', draining: 'warn', disabled: 'off' }[state];
  return h('span', { class: `badge badge-${kind}`, dataset: { field: 'state' } }, state);
}

/** `up` / `down` / `unknown` health as a badge. */
export function healthBadge(state) {
  const kind = { up: 'ok', down: 'bad' }[state] || 'unknown';
  return h('span', { class: `badge badge-${kind}` }, state || 'unknown');
}

export const PAYLOAD_KINDS = ['gateway', 'ssl', 'clientManagement', 'udp'];

export const PAYLOAD_LABELS = {
  gateway: 'Gateway (TCP)',
  ssl: 'SSL',
  clientManagement: 'Client management',
  udp: 'UDP (RDP-UDP)',
};

/** The payloads of a virtual server in words: "SSL 443 offload", "UDP 80, 443"… */
export function payloadSummary(vs) {
  const payloads = vs.payloads || {};
  return PAYLOAD_KINDS.filter((kind) => payloads[kind]).map((kind) => {
    const p = payloads[kind];
    const ports = kind === 'udp' ? (p.ports || []).join(', ') : p.port;
    const mode = kind === 'ssl' ? ` ${p.mode}` : '';
    const off = p.enabled === false ? ' (disabled)' : '';
    return `${PAYLOAD_LABELS[kind]} ${ports}${mode}${off}`;
  });
}

/** The device names of a virtual server, in priority order (entries are names or {name, priority}). */
export function deviceNames(vs) {
  return (vs.devices || []).map((d) => (typeof d === 'string' ? d : d.name));
}

/** The gateway names a virtual server balances over: those its payloads list, or every gateway of the site. */
export function vsGatewayNames(site, vs) {
  const names = new Set();
  let every = false;
  for (const kind of PAYLOAD_KINDS) {
    const p = (vs.payloads || {})[kind];
    if (!p || p.enabled === false) continue;
    const listed = [...(p.gateways || []), ...Object.values(p.sni || {}).flat()];
    if (!p.gateways || p.gateways.length === 0) every = true;
    listed.forEach((n) => names.add(n));
  }
  if (every) site.gateways.forEach((g) => names.add(g.name));
  return [...names];
}

/** The roles of every device for `vsName`: [{device, role, family, priority}]. */
export function rolesFor(status, vsName) {
  const roles = [];
  for (const device of (status && status.devices) || []) {
    for (const role of device.roles || []) {
      if (role.virtualServer === vsName) roles.push({ device: device.device, ...role });
    }
  }
  return roles;
}

/** A role in words: "primary (IPv4)". */
export function roleText(role) {
  const family = role.family ? ` (${role.family === 'ipv6' ? 'IPv6' : 'IPv4'})` : '';
  return `${role.role}${family}`;
}
