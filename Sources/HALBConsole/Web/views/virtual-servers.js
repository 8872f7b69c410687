// Virtual servers: the list with enable/disable, edit and delete; adding and editing go through the wizard
// (vs-wizard.js).

import { changeSite } from '../changes.js';
import { actionButton, confirmDialog, errorText, guard, h, messageLine, replace, table } from '../dom.js';
import { deviceNames, payloadSummary } from '../model.js';
import { openWizard } from './vs-wizard.js';

export function render(root, ctx) {
  const message = messageLine();
  const wizardSlot = h('div');
  const list = h('div');
  const add = guard(h('button', { type: 'button', id: 'add-virtual-server', class: 'primary', onclick: () => edit(null) }, 'Add virtual server'), ctx);
  root.append(h('h1', {}, 'Virtual servers'), message, h('div', { class: 'toolbar' }, add), wizardSlot, list);

  function drawList() {
    replace(list, table(['Virtual server', 'State', 'VIP', 'Payloads', 'Devices (priority order)', 'Actions'],
      ctx.site.virtualServers.map((vs) => h('tr', { dataset: { virtualServer: vs.name } },
        h('th', { scope: 'row' }, vs.name, vs.description ? h('p', { class: 'small muted' }, vs.description) : null),
        h('td', {}, h('span', { class: `badge ${vs.enabled ? 'badge-ok' : 'badge-off'}`, dataset: { field: 'state' } }, vs.enabled ? 'enabled' : 'disabled')),
        h('td', {}, vs.vip.ipv4, vs.vip.ipv6 ? h('br') : null, vs.vip.ipv6 || null),
        h('td', {}, h('ul', { class: 'plain' }, payloadSummary(vs).map((p) => h('li', {}, p)))),
        h('td', {}, deviceNames(vs).join(', ')),
        h('td', { class: 'row-actions' },
          vs.enabled
            ? actionButton('Disable', () => setEnabled(vs, false), ctx, { dataset: { action: 'disable' } })
            : actionButton('Enable', () => setEnabled(vs, true), ctx, { dataset: { action: 'enable' } }),
          actionButton('Edit', () => edit(vs), ctx, { dataset: { action: 'edit' } }),
          actionButton('Delete', () => remove(vs), ctx, { dataset: { action: 'delete' }, class: 'danger' }))))));
  }

  async function setEnabled(vs, enabled) {
    message.clear();
    if (!enabled && !(await confirmDialog(`Disable ${vs.name}? No device will serve it: its clients are cut off.`, 'Disable'))) return;
    try {
      await changeSite(ctx, 'PUT', ['virtual-servers', vs.name], { ...vs, enabled });
      message.show(`${vs.name} ${enabled ? 'enabled' : 'disabled'}.`);
    } catch (error) {
      message.show(`${vs.name} was not changed: ${errorText(error)}`, 'error');
    }
  }

  async function remove(vs) {
    message.clear();
    if (!(await confirmDialog(`Delete virtual server ${vs.name}? Its VIP stops being served.`, 'Delete'))) return;
    try {
      await changeSite(ctx, 'DELETE', ['virtual-servers', vs.name]);
      message.show(`Virtual server ${vs.name} deleted.`);
    } catch (error) {
      message.show(`${vs.name} was not deleted: ${errorText(error)}`, 'error');
    }
  }

  function edit(vs) {
    message.clear();
    add.disabled = true;
    const close = (text) => {
      wizardSlot.replaceChildren();
      add.disabled = ctx.readOnly;
      if (text) message.show(text);
      add.focus();
    };
    openWizard(wizardSlot, ctx, vs, close);
  }

  ctx.on('site', drawList);
  drawList();
}
