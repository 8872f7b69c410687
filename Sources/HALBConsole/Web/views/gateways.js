// Gateways: the list with one-click drain, resume, enable and disable; add and edit in a form; delete after a
// confirmation (the API refuses to delete a gateway a virtual server names, and says why).

import { changeSite } from '../changes.js';
import { actionButton, checkbox, confirmDialog, errorText, field, guard, h, messageLine, replace, table } from '../dom.js';
import { clearIssues, intValue, setOrDelete, showIssues, textValue } from '../forms.js';
import { gatewayBadge } from '../model.js';

export function render(root, ctx) {
  const message = messageLine();
  const formSlot = h('div');
  const list = h('div');
  const add = guard(h('button', { type: 'button', id: 'add-gateway', class: 'primary', onclick: () => openForm(null) }, 'Add gateway'), ctx);
  root.append(h('h1', {}, 'Gateways'), message, h('div', { class: 'toolbar' }, add), formSlot, list);

  function drawList() {
    replace(list, table(['Gateway', 'Address', 'Ports', 'Weight', 'State', 'Actions'],
      ctx.site.gateways.map((g) => row(g))));
  }

  function row(gateway) {
    const change = (label, patch, action) => actionButton(label, () => update(gateway, patch, label), ctx, { dataset: { action } });
    const p = gateway.ports;
    return h('tr', { dataset: { gateway: gateway.name } },
      h('th', { scope: 'row' }, gateway.name),
      h('td', {}, gateway.address),
      h('td', {}, `gateway ${p.gateway}, ssl ${p.ssl}, client management ${p.clientManagement}${p.udp ? `, udp ${p.udp}` : ''}`),
      h('td', {}, String(gateway.weight)),
      h('td', {}, gatewayBadge(gateway)),
      h('td', { class: 'row-actions' },
        gateway.drain ? change('Resume', { drain: false }, 'undrain') : change('Drain', { drain: true }, 'drain'),
        gateway.enabled ? change('Disable', { enabled: false }, 'disable') : change('Enable', { enabled: true }, 'enable'),
        actionButton('Edit', () => openForm(gateway), ctx, { dataset: { action: 'edit' } }),
        actionButton('Delete', () => remove(gateway), ctx, { dataset: { action: 'delete' }, class: 'danger' })));
  }

  async function update(gateway, patch, label) {
    message.clear();
    try {
      await changeSite(ctx, 'PUT', ['gateways', gateway.name], { ...gateway, ...patch });
      message.show(`${label}: ${gateway.name} done.`);
    } catch (error) {
      message.show(`${label} ${gateway.name} failed: ${errorText(error)}`, 'error');
    }
  }

  async function remove(gateway) {
    message.clear();
    if (!(await confirmDialog(`Delete gateway ${gateway.name}?`, 'Delete'))) return;
    try {
      await changeSite(ctx, 'DELETE', ['gateways', gateway.name]);
      message.show(`Gateway ${gateway.name} deleted.`);
    } catch (error) {
      message.show(`Gateway ${gateway.name} was not deleted: ${errorText(error)}`, 'error');
    }
  }

  function openForm(gateway) {
    message.clear();
    const form = gatewayForm(gateway, async (body) => {
      const data = await changeSite(ctx, gateway ? 'PUT' : 'POST', gateway ? ['gateways', gateway.name] : ['gateways'], body);
      formSlot.replaceChildren();
      message.show(gateway ? `Gateway ${data ? data.name : body.name} saved.` : `Gateway ${body.name} added.`);
      add.focus();
    }, () => { formSlot.replaceChildren(); add.focus(); });
    replace(formSlot, form);
    form.querySelector('input').focus();
  }

  ctx.on('site', drawList);
  drawList();
}

/** The add/edit form; `save(body)` sends it and throws the API's error, shown next to the fields. */
function gatewayForm(gateway, save, cancel) {
  const g = gateway || { ports: {} };
  const input = (path, value, attrs = {}) => h('input', { dataset: { path }, value: value ?? '', ...attrs });
  const name = input('name', g.name, { required: true });
  const address = input('address', g.address, { required: true });
  const portGateway = input('ports.gateway', g.ports.gateway, { type: 'number', min: 1, max: 65535, placeholder: '80' });
  const portSSL = input('ports.ssl', g.ports.ssl, { type: 'number', min: 1, max: 65535, placeholder: '443' });
  const portCM = input('ports.clientManagement', g.ports.clientManagement, { type: 'number', min: 1, max: 65535, placeholder: '20009' });
  const portUDP = input('ports.udp', g.ports.udp, { type: 'number', min: 1, max: 65535, placeholder: 'the VIP port' });
  const weight = input('weight', g.weight, { type: 'number', min: 1, max: 256, placeholder: '1' });
  const enabled = checkbox('Enabled (gets connections and health checks)', { checked: gateway ? gateway.enabled : true, dataset: { path: 'enabled' } });
  const drain = checkbox('Draining (no new connections)', { checked: gateway ? gateway.drain : false, dataset: { path: 'drain' } });
  const submit = h('button', { type: 'submit', class: 'primary' }, gateway ? 'Save gateway' : 'Add gateway');

  const form = h('form', { class: 'panel', novalidate: true },
    h('h2', {}, gateway ? `Edit gateway ${gateway.name}` : 'Add a gateway'),
    h('div', { class: 'grid' },
      field('Name', name),
      field('Address (IP or host name)', address),
      field('Weight (1–256)', weight)),
    h('fieldset', {}, h('legend', {}, 'Ports on the gateway'),
      h('div', { class: 'grid' },
        field('Gateway payload', portGateway),
        field('SSL payload', portSSL),
        field('Client management', portCM),
        field('UDP (optional)', portUDP))),
    enabled, drain,
    h('div', { class: 'actions' }, submit, h('button', { type: 'button', onclick: cancel }, 'Cancel')));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearIssues(form);
    // Start from the stored gateway so fields this form does not show are kept.
    const body = structuredClone(gateway || {});
    body.ports = { ...(body.ports || {}) };
    setOrDelete(body, 'name', textValue(name));
    setOrDelete(body, 'address', textValue(address));
    setOrDelete(body.ports, 'gateway', intValue(portGateway));
    setOrDelete(body.ports, 'ssl', intValue(portSSL));
    setOrDelete(body.ports, 'clientManagement', intValue(portCM));
    setOrDelete(body.ports, 'udp', intValue(portUDP));
    setOrDelete(body, 'weight', intValue(weight));
    body.enabled = enabled.querySelector('input').checked;
    body.drain = drain.querySelector('input').checked;
    submit.disabled = true;
    try {
      await save(body);
    } catch (error) {
      const first = showIssues(form, { ...error, message: errorText(error) });
      (first || form).scrollIntoView({ block: 'nearest' });
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}
