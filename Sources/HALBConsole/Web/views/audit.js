// The audit log, newest first. The API does the filtering (site, user, kind, time range) and the limit.

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
  // The users and kinds seen so far, so a choice stays offered once the list is filtered by it.
  const seen = { user: new Set(), kind: new Set() };

  async function load() {
    message.clear();
    const query = new URLSearchParams({ limit: limit.value });
    if (scope.value === 'site' && ctx.siteName) query.set('site', ctx.siteName);
    if (user.value) query.set('actor', user.value);
    if (kind.value) query.set('action', kind.value);
    // datetime-local is the browser's local time; the API takes ISO 8601.
    if (from.value) query.set('since', new Date(from.value).toISOString());
    if (to.value) query.set('until', new Date(to.value).toISOString());
    try {
      entries = await get(`/audit?${query}`);
    } catch (error) {
      entries = [];
      message.show(`The audit log could not be loaded: ${errorText(error)}`, 'error');
    }
    fillChoices(user, seen.user, entries.map((e) => e.actor));
    fillChoices(kind, seen.kind, entries.map((e) => e.action));
    draw();
  }

  // Keeps the choice made when the options are rebuilt.
  function fillChoices(picker, known, values) {
    for (const value of values) known.add(value);
    const chosen = picker.value;
    const options = [...known].sort();
    replace(picker, h('option', { value: '' }, picker === user ? 'Anyone' : 'Any'), options.map((v) => h('option', { value: v }, v)));
    picker.value = chosen;
  }

  function draw() {
    count.textContent = `${entries.length} entr${entries.length === 1 ? 'y' : 'ies'} (at most ${limit.value}).`;
    replace(list, table(['Time', 'User', 'Kind', 'Target', 'Site', 'Version', 'Detail'], entries.map((e) => h('tr', { dataset: { audit: e.id } },
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
  for (const input of [user, kind, from, to]) input.addEventListener('change', load);
  ctx.on('site', load);
  load();
}
