// The overview: every virtual server with who serves it now, every device's agent status and every gateway's
// health as each device reports it. Live: redrawn on each answer of the status long poll (app.js).

import { ago, formatTime, h, replace, table } from '../dom.js';
import {
  deviceNames, gatewayBadge, healthBadge, payloadSummary, roleText, rolesFor, stateBadge, vsGatewayNames,
} from '../model.js';

export function render(root, ctx) {
  const body = h('div');
  root.append(h('h1', {}, 'Overview'), body);
  const draw = () => replace(body, ...content(ctx));
  ctx.on('status', draw);
  ctx.on('site', draw);
  draw();
}

function content(ctx) {
  const { site, status } = ctx;
  const parts = [];
  if (!status) parts.push(h('p', { class: 'muted' }, 'Waiting for the devices’ status…'));
  else if (status.version !== site.version) parts.push(h('p', { class: 'muted' }, `Loading site version ${status.version}…`));
  parts.push(
    h('h2', {}, 'Virtual servers'),
    site.virtualServers.length
      ? h('div', { class: 'cards' }, site.virtualServers.map((vs) => virtualServerCard(site, status, vs)))
      : h('p', { class: 'muted' }, 'No virtual server yet.'),
    h('h2', {}, 'Devices'),
    devicesTable(site, status),
    h('h2', {}, 'Gateways'),
    gatewaysTable(site, status),
  );
  return parts;
}

/** Serving roles per family, as "lb1" or "lb1 (IPv4), lb2 (IPv6)" when families differ. */
function primaryText(primaries) {
  const names = [...new Set(primaries.map((r) => r.device))];
  if (names.length === 0) return 'none';
  if (names.length === 1) return names[0];
  return primaries.map((r) => `${r.device}${r.family ? ` (${r.family === 'ipv6' ? 'IPv6' : 'IPv4'})` : ''}`).join(', ');
}

function virtualServerCard(site, status, vs) {
  const roles = rolesFor(status, vs.name);
  const primaries = roles.filter((r) => r.role === 'primary' || r.role === 'standalone');
  const primaryNames = new Set(primaries.map((r) => r.device));
  const others = deviceNames(vs).filter((name) => !primaryNames.has(name)).map((name) => {
    const own = roles.filter((r) => r.device === name);
    const report = ((status && status.devices) || []).find((d) => d.device === name);
    if (report && report.state === 'Offline') return `${name}: offline`;
    return own.length ? `${name}: ${own.map(roleText).join(', ')}` : `${name}: no role reported`;
  });

  // Clients are served when some device holds the VIP and sees one of the virtual server's gateways up and taking
  // new connections (enabled, not draining).
  const usable = vsGatewayNames(site, vs).filter((name) => {
    const gateway = site.gateways.find((g) => g.name === name);
    return gateway && gateway.enabled && !gateway.drain;
  });
  const upFor = (device) => {
    const report = ((status && status.devices) || []).find((d) => d.device === device);
    return usable.filter((name) => ((report && report.gateways) || []).some((g) => g.gateway === name && g.state === 'up'));
  };
  let served;
  let servedClass;
  if (!vs.enabled) {
    [served, servedClass] = ['No: the virtual server is disabled', 'badge-off'];
  } else if (!status) {
    [served, servedClass] = ['Unknown: no status yet', 'badge-unknown'];
  } else if (primaries.length === 0) {
    [served, servedClass] = ['No: no device holds the VIP', 'badge-bad'];
  } else {
    const up = [...new Set([...primaryNames].flatMap(upFor))];
    [served, servedClass] = up.length
      ? [`Yes: ${up.length} healthy gateway${up.length === 1 ? '' : 's'} (${up.join(', ')})`, 'badge-ok']
      : ['No: no healthy gateway', 'badge-bad'];
  }

  return h('article', { class: 'card', dataset: { virtualServer: vs.name } },
    h('h3', {}, vs.name, ' ', vs.enabled ? null : h('span', { class: 'badge badge-off' }, 'disabled')),
    vs.description ? h('p', { class: 'muted' }, vs.description) : null,
    h('dl', { class: 'facts' },
      h('dt', {}, 'VIP IPv4'), h('dd', {}, vs.vip.ipv4),
      h('dt', {}, 'VIP IPv6'), h('dd', {}, vs.vip.ipv6 || 'none'),
      h('dt', {}, 'Payloads'), h('dd', {}, payloadSummary(vs).join('; ') || 'none'),
      h('dt', {}, 'Primary now'), h('dd', {}, h('strong', { dataset: { field: 'primary' } }, primaryText(primaries))),
      h('dt', {}, 'Other devices'), h('dd', { dataset: { field: 'secondaries' } }, others.join('; ') || 'none'),
      h('dt', {}, 'Clients served'), h('dd', {}, h('span', { class: `badge ${servedClass}`, dataset: { field: 'served' } }, served))));
}

function devicesTable(site, status) {
  const byName = new Map(((status && status.devices) || []).map((d) => [d.device, d]));
  const rows = site.devices.map((device) => {
    const s = byName.get(device.name);
    const roles = s ? s.roles.map((r) => `${r.virtualServer}: ${roleText(r)}`).join('; ') : '';
    return h('tr', { dataset: { device: device.name } },
      h('th', { scope: 'row' }, device.name),
      h('td', {}, s ? stateBadge(s.state) : h('span', { class: 'badge badge-unknown', dataset: { field: 'state' } }, 'Unknown'),
        s && s.error ? h('p', { class: 'small' }, s.error) : null),
      h('td', {}, (s && s.softwareVersion) || '—'),
      h('td', {}, configurationText(s, site)),
      h('td', { title: s && s.lastSeen ? formatTime(s.lastSeen) : '' }, ago(s && s.lastSeen)),
      h('td', { dataset: { field: 'roles' } }, roles || 'none'));
  });
  return table(['Device', 'Agent', 'Software', 'Configuration', 'Last heartbeat', 'Roles'], rows);
}

function configurationText(s, site) {
  if (!s || s.appliedVersion == null) return 'none applied yet';
  const current = s.siteVersion || site.version;
  return s.appliedVersion === current ? `version ${s.appliedVersion} (current)` : `version ${s.appliedVersion} (site is at ${current})`;
}

function gatewaysTable(site, status) {
  const reports = (status && status.devices) || [];
  const rows = site.gateways.map((gateway) => {
    const health = reports.map((d) => {
      const entry = (d.gateways || []).find((g) => g.gateway === gateway.name);
      if (!entry) return null;
      const connections = entry.connections != null ? ` ${entry.connections} connections` : '';
      return h('li', {}, `${d.device}: `, healthBadge(entry.state), connections);
    }).filter(Boolean);
    const users = site.virtualServers.filter((vs) => vsGatewayNames(site, vs).includes(gateway.name)).map((vs) => vs.name);
    return h('tr', { dataset: { gateway: gateway.name } },
      h('th', { scope: 'row' }, gateway.name),
      h('td', {}, gateway.address),
      h('td', {}, gatewayBadge(gateway)),
      h('td', { dataset: { field: 'health' } }, health.length ? h('ul', { class: 'plain' }, health) : 'not reported'),
      h('td', {}, users.join(', ') || 'none'));
  });
  return table(['Gateway', 'Address', 'State', 'Health (per device)', 'Virtual servers'], rows);
}
