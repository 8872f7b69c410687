// The add/edit wizard of a virtual server. Every step is in the form at once (only the current one shown), so
// the API's issues can be put next to their fields on any step; the last step shows the change as a difference
// of the JSON before it is saved. The body starts from the stored virtual server, so fields the wizard does not
// show (router id, ciphers, gateway TLS...) are kept.

import { get, sitePath } from '../api.js';
import { changeSite } from '../changes.js';
import { diffView } from '../diff.js';
import { checkbox, errorText, field, h, replace, select } from '../dom.js';
import { clearIssues, intValue, setOrDelete, showIssues, textValue } from '../forms.js';
import { PAYLOAD_KINDS, PAYLOAD_LABELS } from '../model.js';

const BALANCING = [
  ['leastconn', 'Least connections (fewest active, by weight)'],
  ['roundrobin', 'Round robin (weighted)'],
  ['sourcehash', 'Source hash (a client IP sticks to a gateway)'],
  ['random', 'Random (the less loaded of two)'],
];
const DEFAULT_PORTS = { gateway: 80, ssl: 443, clientManagement: 20009 };

/** Opens the wizard in `slot` for `vs` (null: a new one); `close(message)` ends it. */
export function openWizard(slot, ctx, vs, close) {
  const original = vs ? structuredClone(vs) : null;
  const o = original || { vip: {}, vrrp: {}, payloads: {}, healthCheck: {}, timeouts: {}, limits: {}, persistence: {} };
  const inputs = {};
  const input = (path, value, attrs = {}) => {
    inputs[path] = h('input', { dataset: { path }, value: value ?? '', ...attrs });
    return inputs[path];
  };
  const choice = (path, options, value) => {
    inputs[path] = select(options, { dataset: { path } });
    if (value != null) inputs[path].value = value;
    return inputs[path];
  };
  const check = (path, label, checked) => {
    const wrapper = checkbox(label, { checked, dataset: { path } });
    inputs[path] = wrapper.querySelector('input');
    return wrapper;
  };
  const number = (path, value, placeholder, min, max) => input(path, value, { type: 'number', min, max, placeholder });
  const duration = (path, value, placeholder) => input(path, value, { placeholder, pattern: '([0-9]+(ms|s|m|h))+', spellcheck: false });

  // ---- Devices, in priority order ----
  const assigned = (o.devices || []).map((d) => (typeof d === 'string' ? { name: d } : { ...d }));
  const deviceList = h('ol', { class: 'order-list', dataset: { path: 'devices' }, tabIndex: -1 });
  const deviceAdd = h('select', { id: 'wizard-device-add' });
  const drawDevices = () => {
    replace(deviceList, assigned.map((a, index) => {
      const priority = h('input', {
        type: 'number', min: 1, max: 255, value: a.priority ?? '', placeholder: 'by position', dataset: { path: `devices[${index}].priority` },
        oninput: () => { a.priority = priority.value === '' ? undefined : Number(priority.value); },
      });
      priority.id = `wizard-priority-${index}`;
      const move = (delta) => () => {
        const [item] = assigned.splice(index, 1);
        assigned.splice(index + delta, 0, item);
        drawDevices();
        deviceList.querySelectorAll('li')[index + delta].querySelector('button').focus();
      };
      return h('li', { dataset: { device: a.name, path: `devices[${index}]` } },
        h('span', { class: 'grow' }, `${index + 1}. ${a.name}${index === 0 ? ' (preferred primary)' : ''}`),
        h('label', { for: priority.id }, 'VRRP priority'), priority,
        h('button', { type: 'button', disabled: index === 0, onclick: move(-1), 'aria-label': `Move ${a.name} up` }, 'Up'),
        h('button', { type: 'button', disabled: index === assigned.length - 1, onclick: move(1), 'aria-label': `Move ${a.name} down` }, 'Down'),
        h('button', { type: 'button', onclick: () => { assigned.splice(index, 1); drawDevices(); }, 'aria-label': `Remove ${a.name}` }, 'Remove'));
    }));
    if (!assigned.length) deviceList.append(h('li', { class: 'muted' }, 'No device yet: add at least one (two or more for failover).'));
    const free = ctx.site.devices.map((d) => d.name).filter((name) => !assigned.some((a) => a.name === name));
    replace(deviceAdd, free.map((name) => h('option', { value: name }, name)));
    deviceAdd.disabled = free.length === 0;
    deviceAddButton.disabled = free.length === 0;
  };
  const deviceAddButton = h('button', { type: 'button', id: 'wizard-device-add-button', onclick: () => {
    if (!deviceAdd.value) return;
    assigned.push({ name: deviceAdd.value });
    drawDevices();
  } }, 'Add device');

  // ---- Payloads ----
  const sniRows = h('div', { dataset: { path: 'payloads.ssl.sni' }, tabIndex: -1 });
  const gatewayNames = ctx.site.gateways.map((g) => g.name);
  const included = {};
  const gatewayChecks = {};
  const payloadSections = {};
  const payloadStep = PAYLOAD_KINDS.map((kind) => {
    const p = (o.payloads || {})[kind] || {};
    const present = Boolean((o.payloads || {})[kind]);
    const include = checkbox(`Serve the ${PAYLOAD_LABELS[kind]} payload`, { checked: present, dataset: { path: `payloads.${kind}` } });
    included[kind] = include.querySelector('input');
    const boxes = gatewayNames.map((name) => checkbox(name, { checked: (p.gateways || []).includes(name), value: name }));
    gatewayChecks[kind] = boxes.map((b) => b.querySelector('input'));
    const body = h('div', { hidden: !present },
      h('div', { class: 'grid' },
        kind === 'udp'
          ? field('UDP ports (comma-separated)', input('payloads.udp.ports', (p.ports || []).join(', '), { placeholder: '80, 443' }))
          : field('Port on the VIP', number(`payloads.${kind}.port`, p.port, String(DEFAULT_PORTS[kind]), 1, 65535))),
      check(`payloads.${kind}.enabled`, 'Enabled (unticked: configured but not served)', p.enabled ?? true),
      h('fieldset', { dataset: { path: `payloads.${kind}.gateways` } },
        h('legend', {}, 'Gateways (none ticked: every gateway of the site)'),
        h('div', { class: 'checks' }, boxes)),
      kind === 'ssl' ? sslFields(p) : null,
      kind === 'udp' ? h('div', { class: 'grid' },
        field('Flow idle timeout', duration('payloads.udp.idleTimeout', p.idleTimeout, '2m')),
        field('Most flows per VIP port', number('payloads.udp.maxFlows', p.maxFlows, '100000', 1, 10000000))) : null);
    included[kind].addEventListener('change', () => { body.hidden = !included[kind].checked; });
    payloadSections[kind] = body;
    return h('fieldset', {}, h('legend', {}, PAYLOAD_LABELS[kind]), include, body);
  });

  // SSL: passthrough (optionally routed by SNI) or offload with a certificate uploaded to the console.
  function sslFields(p) {
    const mode = choice('payloads.ssl.mode', [['passthrough', 'Passthrough (TLS goes to the gateways)'], ['offload', 'Offload (TLS ends on the device)']], p.mode || 'passthrough');
    const certificate = choice('payloads.ssl.managedCertificate', [['', 'Choose a certificate…']], p.managedCertificate || '');
    loadCertificates(certificate, p.managedCertificate);
    const sslOffload = h('div', { class: 'grid' },
      field('Certificate (uploaded to the console)', certificate),
      field('Lowest TLS version', choice('payloads.ssl.minimumTLSVersion', [['1.2', 'TLS 1.2'], ['1.3', 'TLS 1.3']], p.minimumTLSVersion || '1.2')));
    for (const [name, gateways] of Object.entries(p.sni || {})) sniRows.append(sniRow(name, gateways.join(', ')));
    const sslPassthrough = h('fieldset', {}, h('legend', {}, 'SNI routes (server name → gateways)'),
      sniRows,
      h('button', { type: 'button', onclick: () => { const row = sniRow('', ''); sniRows.append(row); row.querySelector('input').focus(); } }, 'Add SNI route'));
    const showMode = () => {
      sslOffload.hidden = mode.value !== 'offload';
      sslPassthrough.hidden = mode.value !== 'passthrough';
    };
    mode.addEventListener('change', showMode);
    showMode();
    return h('div', {}, h('div', { class: 'grid' }, field('Mode', mode)), sslOffload, sslPassthrough);
  }
  function sniRow(name, gateways) {
    const server = h('input', { value: name, placeholder: 'rdp.example.com or *.example.com', class: 'sni-name' });
    const targets = h('input', { value: gateways, placeholder: 'gw1, gw2', class: 'sni-gateways' });
    const row = h('div', { class: 'sni-row' }, field('Server name', server), field('Gateways (comma-separated)', targets));
    row.append(h('button', { type: 'button', onclick: () => row.remove() }, 'Remove route'));
    return row;
  }
  async function loadCertificates(picker, current) {
    try {
      const certificates = await get(sitePath(ctx.siteName, 'certificates'));
      const names = certificates.map((c) => c.name);
      if (current && !names.includes(current)) names.push(current);
      picker.append(...names.map((name) => h('option', { value: name }, name)));
      picker.value = current || '';
    } catch (error) {
      picker.after(h('p', { class: 'hint' }, `The certificates could not be listed: ${errorText(error)}`));
    }
  }

  // ---- Steps ----
  const hc = o.healthCheck || {};
  const steps = [
    ['Basics', [
      field('Name', input('name', o.name, { required: true })),
      field('Description', input('description', o.description)),
      field('Public address (FQDN or IP clients are told)', input('publicAddress', o.publicAddress)),
      check('enabled', 'Enabled (devices serve it)', o.enabled ?? true),
    ]],
    ['VIP', [
      h('div', { class: 'grid' },
        field('IPv4 VIP (with prefix length)', input('vip.ipv4', o.vip.ipv4, { placeholder: '192.0.2.10/24', required: true })),
        field('IPv6 VIP (optional)', input('vip.ipv6', o.vip.ipv6, { placeholder: '2001:db8::10/64' })),
        field('Interface (optional)', input('vip.interface', o.vip.interface, { placeholder: 'each device’s own' })),
        field('Advertisement interval', duration('vrrp.advertInterval', o.vrrp.advertInterval, '100ms'))),
      check('vrrp.preempt', 'Preempt: a higher-priority device takes the VIP back', o.vrrp.preempt ?? true),
      check('vrrp.unicast', 'Unicast advertisements (no multicast)', o.vrrp.unicast ?? false),
    ]],
    ['Devices', [
      h('p', { class: 'hint' }, 'The first device is the preferred primary; the others stand by in this order.'),
      deviceList,
      h('div', { class: 'toolbar' }, field('Device to add', deviceAdd), deviceAddButton),
    ]],
    ['Payloads', payloadStep],
    ['Balancing', PAYLOAD_KINDS.map((kind) => field(`${PAYLOAD_LABELS[kind]} payload`,
      choice(`payloads.${kind}.balancing`, BALANCING, ((o.payloads || {})[kind] || {}).balancing || 'leastconn'),
      'Used when the payload is served.'))],
    ['Health check', [
      h('div', { class: 'grid' },
        field('Type', choice('healthCheck.type', [['tcp', 'TCP connect'], ['http', 'HTTP GET'], ['tls', 'TLS handshake']], hc.type || 'tcp')),
        field('Interval', duration('healthCheck.interval', hc.interval, '2s')),
        field('Timeout', duration('healthCheck.timeout', hc.timeout, '1s')),
        field('Rise (successes to come up)', number('healthCheck.rise', hc.rise, '2', 1, 100)),
        field('Fall (failures to go down)', number('healthCheck.fall', hc.fall, '3', 1, 100)),
        field('HTTP path', input('healthCheck.path', hc.path, { placeholder: '/' })),
        field('HTTP status expected', number('healthCheck.expectedStatus', hc.expectedStatus, '200–399', 100, 599))),
    ]],
    ['Persistence & PROXY', [
      h('div', { class: 'grid' },
        field('Persistence', choice('persistence.type', [['none', 'None'], ['sourceIP', 'Source IP (a client sticks to its gateway)']], o.persistence.type || 'none')),
        field('Persistence timeout', duration('persistence.timeout', o.persistence.timeout, '30m')),
        field('PROXY protocol to gateways', choice('proxyProtocol', [['off', 'Off'], ['v1', 'v1 (text)'], ['v2', 'v2 (binary)']], o.proxyProtocol || 'off'))),
    ]],
    ['Timeouts & limits', [
      h('div', { class: 'grid' },
        field('Connect timeout', duration('timeouts.connect', o.timeouts.connect, '5s')),
        field('Client idle timeout', duration('timeouts.clientIdle', o.timeouts.clientIdle, '1h')),
        field('Gateway idle timeout', duration('timeouts.gatewayIdle', o.timeouts.gatewayIdle, '1h')),
        field('ClientHello timeout', duration('timeouts.clientHello', o.timeouts.clientHello, '5s')),
        field('Most connections', number('limits.maxConnections', o.limits.maxConnections, '20000', 1, 10000000)),
        field('Most connections per gateway (0: no limit)', number('limits.maxConnectionsPerGateway', o.limits.maxConnectionsPerGateway, '0', 0, 10000000))),
    ]],
    ['Review', []],
  ];
  const review = h('div');
  const sections = steps.map(([title, content], index) => h('section', { class: 'wizard-step', hidden: index !== 0, dataset: { step: index } },
    h('h3', {}, `Step ${index + 1} of ${steps.length}: ${title}`), content));
  sections[sections.length - 1].append(review);
  const stepList = h('ol', { class: 'steps' }, steps.map(([title], index) => h('li', {}, title)));

  const back = h('button', { type: 'button', id: 'wizard-back', onclick: () => show(current - 1) }, 'Back');
  const next = h('button', { type: 'button', id: 'wizard-next', class: 'primary', onclick: () => show(current + 1) }, 'Next');
  const save = h('button', { type: 'submit', id: 'wizard-save', class: 'primary' }, original ? 'Save changes' : 'Create virtual server');
  const form = h('form', { class: 'panel wizard', novalidate: true, 'aria-label': 'Virtual server wizard' },
    h('h2', {}, original ? `Edit virtual server ${original.name}` : 'Add a virtual server'),
    stepList, sections,
    h('div', { class: 'actions' }, back, next, save,
      h('button', { type: 'button', id: 'wizard-cancel', onclick: () => close() }, 'Cancel')));

  let current = 0;
  function show(index) {
    current = Math.max(0, Math.min(index, steps.length - 1));
    sections.forEach((section, i) => { section.hidden = i !== current; });
    stepList.querySelectorAll('li').forEach((li, i) => {
      if (i === current) li.setAttribute('aria-current', 'step');
      else li.removeAttribute('aria-current');
    });
    back.disabled = current === 0;
    next.hidden = current === steps.length - 1;
    save.hidden = current !== steps.length - 1;
    if (current === steps.length - 1) {
      replace(review,
        h('p', {}, original ? 'The change, as the difference of the stored and the new JSON:' : 'The new virtual server (the console fills in the defaults left empty):'),
        diffView(original || undefined, collect(), { id: 'change-diff', tabIndex: 0, 'aria-label': 'Difference' }));
    }
    const focusable = sections[current].querySelector('input, select, button, [tabindex]');
    if (focusable) focusable.focus();
  }

  /** The virtual server as the form describes it. */
  function collect() {
    const vs = structuredClone(original || {});
    const text = (path) => textValue(inputs[path]);
    const int = (path) => intValue(inputs[path]);
    const into = (key) => { vs[key] = { ...(vs[key] || {}) }; return vs[key]; };
    setOrDelete(vs, 'name', text('name'));
    setOrDelete(vs, 'description', text('description'));
    setOrDelete(vs, 'publicAddress', text('publicAddress'));
    vs.enabled = inputs.enabled.checked;
    const vip = into('vip');
    for (const key of ['ipv4', 'ipv6', 'interface']) setOrDelete(vip, key, text(`vip.${key}`));
    const vrrp = into('vrrp');
    setOrDelete(vrrp, 'advertInterval', text('vrrp.advertInterval'));
    vrrp.preempt = inputs['vrrp.preempt'].checked;
    vrrp.unicast = inputs['vrrp.unicast'].checked;
    vs.devices = assigned.map((a) => (a.priority != null && !Number.isNaN(a.priority) ? { name: a.name, priority: a.priority } : a.name));

    const payloads = into('payloads');
    for (const kind of PAYLOAD_KINDS) {
      if (!included[kind].checked) {
        delete payloads[kind];
        continue;
      }
      const p = { ...(payloads[kind] || {}) };
      p.enabled = inputs[`payloads.${kind}.enabled`].checked;
      const chosen = gatewayChecks[kind].filter((box) => box.checked).map((box) => box.value);
      setOrDelete(p, 'gateways', chosen.length ? chosen : undefined);
      p.balancing = inputs[`payloads.${kind}.balancing`].value;
      if (kind === 'udp') {
        const ports = inputs['payloads.udp.ports'].value.split(/[\s,]+/).filter(Boolean).map((v) => (Number.isInteger(Number(v)) ? Number(v) : v));
        setOrDelete(p, 'ports', ports.length ? ports : undefined);
        setOrDelete(p, 'idleTimeout', text('payloads.udp.idleTimeout'));
        setOrDelete(p, 'maxFlows', int('payloads.udp.maxFlows'));
      } else {
        setOrDelete(p, 'port', int(`payloads.${kind}.port`));
      }
      if (kind === 'ssl') {
        p.mode = inputs['payloads.ssl.mode'].value;
        if (p.mode === 'offload') {
          setOrDelete(p, 'managedCertificate', inputs['payloads.ssl.managedCertificate'].value || undefined);
          p.minimumTLSVersion = inputs['payloads.ssl.minimumTLSVersion'].value;
          delete p.sni;
        } else {
          delete p.managedCertificate;
          const routes = {};
          for (const row of sniRows.querySelectorAll('.sni-row')) {
            const name = row.querySelector('.sni-name').value.trim();
            const targets = row.querySelector('.sni-gateways').value.split(/[\s,]+/).filter(Boolean);
            if (name) routes[name] = targets;
          }
          setOrDelete(p, 'sni', Object.keys(routes).length ? routes : undefined);
        }
      }
      payloads[kind] = p;
    }

    const health = into('healthCheck');
    health.type = inputs['healthCheck.type'].value;
    for (const key of ['interval', 'timeout', 'path']) setOrDelete(health, key, text(`healthCheck.${key}`));
    for (const key of ['rise', 'fall', 'expectedStatus']) setOrDelete(health, key, int(`healthCheck.${key}`));
    const persistence = into('persistence');
    persistence.type = inputs['persistence.type'].value;
    setOrDelete(persistence, 'timeout', text('persistence.timeout'));
    vs.proxyProtocol = inputs.proxyProtocol.value;
    const timeouts = into('timeouts');
    for (const key of ['connect', 'clientIdle', 'gatewayIdle', 'clientHello']) setOrDelete(timeouts, key, text(`timeouts.${key}`));
    const limits = into('limits');
    for (const key of ['maxConnections', 'maxConnectionsPerGateway']) setOrDelete(limits, key, int(`limits.${key}`));
    return vs;
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (current !== steps.length - 1) {
      show(current + 1); // Enter in a field moves on; only the last step saves
      return;
    }
    clearIssues(form);
    stepList.querySelectorAll('li').forEach((li) => li.classList.remove('has-error'));
    save.disabled = true;
    const body = collect();
    try {
      await changeSite(ctx, original ? 'PUT' : 'POST', original ? ['virtual-servers', original.name] : ['virtual-servers'], body);
      close(original ? `Virtual server ${body.name || original.name} saved.` : `Virtual server ${body.name} created.`);
    } catch (error) {
      save.disabled = false;
      // Hidden payload sections would hide their issues: show the ones with issues.
      showIssues(form, { ...error, message: errorText(error) });
      for (const kind of PAYLOAD_KINDS) {
        if (payloadSections[kind].querySelector('.field-error')) payloadSections[kind].hidden = false;
      }
      const withErrors = sections.map((s, i) => (s.querySelector('.field-error') ? i : -1)).filter((i) => i >= 0);
      withErrors.forEach((i) => stepList.querySelectorAll('li')[i].classList.add('has-error'));
      if (withErrors.length) show(withErrors[0]);
      const firstError = form.querySelector('.issue-summary, .field-error');
      if (firstError) firstError.scrollIntoView({ block: 'center' });
    }
  });

  drawDevices();
  replace(slot, form);
  show(0);
  if (ctx.readOnly) save.disabled = true;
}
