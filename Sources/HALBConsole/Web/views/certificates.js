// Certificates kept by the console for the site: subject, names, expiry (a warning under 30 days), the virtual
// servers offloading with each; upload or replace (chain and key read from files); delete (the API refuses while
// a virtual server uses one, and says so).

import { get, request, sitePath } from '../api.js';
import { actionButton, confirmDialog, errorText, field, formatTime, guard, h, messageLine, replace, table } from '../dom.js';
import { clearIssues, showIssues } from '../forms.js';

const DAY = 86400000;

export function render(root, ctx) {
  const message = messageLine();
  const list = h('div');
  const upload = uploadForm();
  root.append(h('h1', {}, 'Certificates'), message, list, upload.form);

  async function load() {
    try {
      const certificates = await get(sitePath(ctx.siteName, 'certificates'));
      replace(list, table(['Name', 'Subject', 'Names (SAN)', 'Expiry', 'Used by', 'Actions'], certificates.map(row)));
    } catch (error) {
      replace(list, h('p', { class: 'message message-error' }, `The certificates could not be loaded: ${errorText(error)}`));
    }
  }

  function row(c) {
    const days = Math.floor((new Date(c.notValidAfter).getTime() - Date.now()) / DAY);
    const words = days < 0 ? `expired ${-days} day${days === -1 ? '' : 's'} ago` : `expires in ${days} day${days === 1 ? '' : 's'}`;
    const expiryClass = days < 0 ? 'expired' : days < 30 ? 'warning' : '';
    return h('tr', { dataset: { certificate: c.name } },
      h('th', { scope: 'row' }, c.name, h('p', { class: 'small muted' }, `${c.chainLength} in chain, uploaded ${formatTime(c.updatedAt)}`)),
      h('td', {}, c.subject),
      h('td', {}, c.subjectAlternativeNames.length ? c.subjectAlternativeNames.join(', ') : 'none'),
      h('td', { dataset: { field: 'expiry' }, class: expiryClass, title: `valid ${formatTime(c.notValidBefore)} to ${formatTime(c.notValidAfter)}` },
        formatTime(c.notValidAfter), h('br'), words),
      h('td', {}, c.usedBy.length ? c.usedBy.join(', ') : 'not used'),
      h('td', { class: 'row-actions' },
        actionButton('Replace', () => upload.open(c.name), ctx, { dataset: { action: 'replace' } }),
        actionButton('Delete', () => remove(c), ctx, { dataset: { action: 'delete' }, class: 'danger' })));
  }

  async function remove(c) {
    message.clear();
    if (!(await confirmDialog(`Delete certificate ${c.name}?`, 'Delete'))) return;
    try {
      await request('DELETE', sitePath(ctx.siteName, 'certificates', c.name));
      message.show(`Certificate ${c.name} deleted.`);
      load();
    } catch (error) {
      message.show(`Certificate ${c.name} was not deleted: ${errorText(error)}`, 'error');
    }
  }

  function uploadForm() {
    const name = h('input', { id: 'certificate-name', dataset: { path: 'name' }, required: true });
    const chain = h('input', { type: 'file', id: 'certificate-chain', accept: '.pem,.crt,.cer,text/plain', dataset: { path: 'certificate' } });
    const key = h('input', { type: 'file', id: 'certificate-key', accept: '.pem,.key,text/plain', dataset: { path: 'privateKey' } });
    const submit = guard(h('button', { type: 'submit', class: 'primary', id: 'certificate-upload' }, 'Upload'), ctx);
    const form = h('form', { class: 'panel', novalidate: true },
      h('h2', {}, 'Upload or replace a certificate'),
      h('div', { class: 'grid' },
        field('Name', name, 'The name a virtual server’s SSL payload refers to.'),
        field('Certificate chain (PEM, leaf first)', chain),
        field('Private key (PEM, not encrypted)', key, 'Stored sealed; never shown again.')),
      h('div', { class: 'actions' }, submit));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearIssues(form);
      message.clear();
      if (!name.value.trim() || !chain.files[0] || !key.files[0]) {
        showIssues(form, { message: 'Give a name, the chain and the key.', issues: [] });
        return;
      }
      submit.disabled = true;
      try {
        const [certificate, privateKey] = await Promise.all([chain.files[0].text(), key.files[0].text()]);
        const { status } = await request('PUT', sitePath(ctx.siteName, 'certificates', name.value.trim()), { body: { certificate, privateKey } });
        message.show(`Certificate ${name.value.trim()} ${status === 201 ? 'uploaded' : 'replaced'}.`);
        form.reset();
        await ctx.reloadSite().catch(() => {}); // virtual servers using it get a new version
        load();
      } catch (error) {
        showIssues(form, { ...error, message: errorText(error) });
      } finally {
        submit.disabled = ctx.readOnly;
      }
    });
    return {
      form,
      open(existing) {
        name.value = existing;
        form.scrollIntoView({ block: 'nearest' });
        chain.focus();
      },
    };
  }

  load();
}
