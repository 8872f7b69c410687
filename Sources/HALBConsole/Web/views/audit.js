// The audit log. The API filters by site and limits the count (newest first); the user, kind and time filters
// apply to the entries fetched.

import { get } from '../api.js';
import { errorText, field, formatTime, h, messageLine, replace, select, table } from '../dom.js';

export function render(root, ctx) {
  const message = messageLine();
  const scope = select([['site', `Site ${ctx.siteName || ''}`], ['all', 'All sites and users']], { id: 'audit-scope' });
  if (!ctx.siteName) scope.value = 'all';
  const limit = select(['100', '500', '1000'], { id: 'audit-limit' });
  const user = select([['', 'Anyone']], { id: 'audit-user' });
  const kind = select([['', 'Any']], { id: 'audit-kind' });
  const from = h('input', { type: 'datetime-local', id: 'audit-from' });
  const to = h('input', { type: 'datetime-local', id: 'audit-to' });
  const count = h('p', { class: 'muted', role: 'status' });
  const list = h('div');
  const filters = h('form', { class: 'toolbar', id: 'audit-filters' },
    field('Entries of', scope), field('Fetch at most', limit), field('User', user), field('Kind', kind),
    field('From', from), field('To', to));
  filters.addEventListener('submit', (event) => event.preventDefault());
  root.append(h('h1', {}, 'Audit log'), message, filters, count, list);

  let entries = [];

  async function load() {
    message.clear();
    const query = new URLSearchParams({ limit: limit.value });
    if (scope.value === 'site' && ctx.siteName) query.set('site', ctx.siteName);
    try {
      entries = await get(`/audit?${query}`);
    } catch (error) {
      entries = [];
      message.show(`The audit log could not be loaded: ${errorText(error)}`, 'error');
    }
    fillChoices(user, entries.map((e) => e.actor));
    fillChoices(kind, entries.map((e) => e.action));
    draw();
  }

  // Keeps the choice made when the options are rebuilt.
  function fillChoices(picker, values) {
    const chosen = picker.value;
    const options = [...new Set(values)].sort();
    if (chosen && !options.includes(chosen)) options.push(chosen);
    replace(picker, h('option', { value: '' }, picker === user ? 'Anyone' : 'Any'), options.map((v) => h('option', { value: v }, v)));
    picker.value = chosen;
  }

  function draw() {
    const start = from.value ? new Date(from.value).getTime() : -Infinity;
    const end = to.value ? new Date(to.value).getTime() : Infinity;
    const shown = entries.filter((e) => {
      const at = new Date(e.at).getTime();
      return (!user.value || e.actor === user.value) && (!kind.value || e.action === kind.value) && at >= start && at <= end;
    });
    count.textContent = `${shown.length} of ${entries.length} entries fetched.`;
    replace(list, table(['Time', 'User', 'Kind', 'Target', 'Site', 'Version', 'Detail'], shown.map((e) => h('tr', { dataset: { audit: e.id } },
      h('td', {}, formatTime(e.at)),
      h('td', {}, e.actor),
      h('td', {}, e.action),
      h('td', {}, e.target),
      h('td', {}, e.site || '—'),
      h('td', {}, e.version != null ? String(e.version) : '—'),
      h('td', {}, e.detail)))));
  }

  scope.addEventListener('change', load);
  limit.addEventListener('change', load);
  for (const input of [user, kind, from, to]) input.addEventListener('change', draw);
  ctx.on('site', load);
  load();
}
