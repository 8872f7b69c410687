// Devices: the list with agent status; add a device (then a one-time join token and the exact command that
// enrols it); a new join token for an existing device; "ping host" (the device tries a TCP connection to a gateway
// or an address of the site); remove after a confirmation.

import { request, sitePath } from '../api.js';
import { changeSite } from '../changes.js';
import { actionButton, ago, confirmDialog, copyText, errorText, field, formatTime, guard, h, messageLine, replace, select, table } from '../dom.js';
import { clearIssues, setOrDelete, showIssues, textValue } from '../forms.js';
import { deviceNames, stateBadge } from '../model.js';

export function render(root, ctx) {
  const message = messageLine();
  const formSlot = h('div');
  const joinSlot = h('div', { 'aria-live': 'polite' });
  const pingSlot = h('div');
  const list = h('div');
  const add = guard(h('button', { type: 'button', id: 'add-device', class: 'primary', onclick: openForm }, 'Add device'), ctx);
  root.append(h('h1', {}, 'Devices'), message, h('div', { class: 'toolbar' }, add), formSlot, joinSlot, pingSlot, list);

  function drawList() {
    const byName = new Map(((ctx.status && ctx.status.devices) || []).map((d) => [d.device, d]));
    replace(list, table(['Device', 'Address', 'Interface', 'Agent', 'Software', 'Last heartbeat', 'Virtual servers', 'Actions'],
      ctx.site.devices.map((device) => {
        const s = byName.get(device.name);
        const serving = ctx.site.virtualServers.filter((vs) => deviceNames(vs).includes(device.name)).map((vs) => vs.name);
        return h('tr', { dataset: { device: device.name } },
          h('th', { scope: 'row' }, device.name),
          h('td', {}, device.address),
          h('td', {}, device.interface),
          h('td', {}, s ? stateBadge(s.state) : stateBadge(null), s && s.error ? h('p', { class: 'small' }, s.error) : null),
          h('td', {}, (s && s.softwareVersion) || '—'),
          h('td', { title: s && s.lastSeen ? formatTime(s.lastSeen) : '' }, ago(s && s.lastSeen)),
          h('td', {}, serving.join(', ') || 'none'),
          h('td', { class: 'row-actions' },
            actionButton('Ping host', () => openPing(device.name), ctx, { dataset: { action: 'ping' } }),
            actionButton('New join token', () => joinToken(device.name), ctx, { dataset: { action: 'join-token' } }),
            actionButton('Remove', () => remove(device.name), ctx, { dataset: { action: 'delete' }, class: 'danger' })));
      })));
  }

  /** "Ping host": device `name` tries a TCP connection to a gateway (its gateway port) or an address of the site. */
  function openPing(name) {
    message.clear();
    const targets = [
      ...ctx.site.gateways.map((g) => [g.name, `${g.name} (${g.address}:${g.ports.gateway})`]),
      ...ctx.site.devices.filter((d) => d.name !== name).map((d) => [d.address, `${d.name} (${d.address})`]),
    ];
    const target = select(targets, { id: 'ping-target' });
    const port = h('input', { type: 'number', id: 'ping-port', min: 1, max: 65535, placeholder: "the gateway's port" });
    const result = h('p', { id: 'ping-result', role: 'status' });
    const submit = h('button', { type: 'submit', class: 'primary', id: 'ping-submit' }, 'Ping');
    const form = h('form', { class: 'panel', 'aria-label': `Ping host from ${name}` },
      h('h2', {}, `Ping host from ${name}`),
      h('p', { class: 'muted' }, 'The device opens a TCP connection to the host and closes it (hosts of this site only).'),
      h('div', { class: 'grid' }, field('Host', target), field('Port (for a device address: required)', port)),
      h('div', { class: 'actions' }, submit, h('button', { type: 'button', onclick: () => replace(pingSlot) }, 'Close')),
      result);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      submit.disabled = true;
      result.className = '';
      result.textContent = `Asking ${name}…`;
      const body = { device: name, target: target.value };
      if (port.value) body.port = Number(port.value);
      try {
        const { data } = await request('POST', sitePath(ctx.siteName, 'ping'), { body });
        result.className = data.reachable ? 'message message-ok' : 'message message-error';
        result.textContent = data.reachable
          ? `Reachable: ${name} connected to ${data.address}:${data.port} in ${data.milliseconds} ms.`
          : `Not reachable: ${name} could not connect to ${data.address}:${data.port} (${data.error || 'no reason given'}).`;
      } catch (error) {
        result.className = 'message message-error';
        result.textContent = `No answer: ${errorText(error)}`;
      } finally {
        submit.disabled = false;
      }
    });
    replace(pingSlot, form);
    target.focus();
  }

  async function remove(name) {
    message.clear();
    if (!(await confirmDialog(`Remove device ${name} from the site?`, 'Remove'))) return;
    try {
      await changeSite(ctx, 'DELETE', ['devices', name]);
      message.show(`Device ${name} removed.`);
    } catch (error) {
      message.show(`Device ${name} was not removed: ${errorText(error)}`, 'error');
    }
  }

  /** Gets a one-time join token for `name` and shows the command that enrols the device with it. */
  async function joinToken(name) {
    message.clear();
    try {
      const { data } = await request('POST', sitePath(ctx.siteName, 'join-tokens'), { body: { device: name } });
      showJoinCommand(joinSlot, name, data);
    } catch (error) {
      message.show(`No join token for ${name}: ${errorText(error)}`, 'error');
    }
  }

  function openForm() {
    message.clear();
    joinSlot.replaceChildren();
    const name = h('input', { dataset: { path: 'name' }, required: true });
    const address = h('input', { dataset: { path: 'address' }, required: true });
    const iface = h('input', { dataset: { path: 'interface' }, placeholder: 'eth0' });
    const submit = h('button', { type: 'submit', class: 'primary', id: 'add-device-submit' }, 'Add device');
    const form = h('form', { class: 'panel', novalidate: true },
      h('h2', {}, 'Add a device'),
      h('div', { class: 'grid' },
        field('Name', name, 'The name the device is started with (halb device --name).'),
        field('Management address', address, 'Where its peers and the console reach it.'),
        field('Interface for the VIPs', iface)),
      h('div', { class: 'actions' }, submit,
        h('button', { type: 'button', onclick: () => { formSlot.replaceChildren(); add.focus(); } }, 'Cancel')));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearIssues(form);
      const body = {};
      setOrDelete(body, 'name', textValue(name));
      setOrDelete(body, 'address', textValue(address));
      setOrDelete(body, 'interface', textValue(iface));
      submit.disabled = true;
      try {
        await changeSite(ctx, 'POST', ['devices'], body);
      } catch (error) {
        showIssues(form, { ...error, message: errorText(error) });
        submit.disabled = false;
        return;
      }
      formSlot.replaceChildren();
      message.show(`Device ${body.name} added.`);
      await joinToken(body.name);
    });
    replace(formSlot, form);
    name.focus();
  }

  ctx.on('site', drawList);
  ctx.on('status', drawList);
  drawList();
}

// The token goes in HALB_JOIN_TOKEN: `halb device` refuses --join-token, as a command line is readable by every
// user of the machine (docs/console.md).
function showJoinCommand(slot, name, created) {
  const command = `HALB_JOIN_TOKEN='${created.token}' halb device --console ${location.origin} --name ${name} --state /var/lib/halb`;
  const copy = h('button', { type: 'button', onclick: () => copyText(command, copy) }, 'Copy');
  replace(slot, h('div', { class: 'panel' },
    h('h2', {}, `Enrol ${name}`),
    h('p', {}, `Run this on the device (as root). The token works once, until ${formatTime(created.expiresAt)}; it is not shown again.`),
    h('pre', { class: 'command' }, h('code', { id: 'join-command' }, command)),
    h('div', { class: 'actions' }, copy,
      h('button', { type: 'button', onclick: () => slot.replaceChildren() }, 'Done'))));
  copy.focus();
}
