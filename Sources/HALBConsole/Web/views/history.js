// History: every version of the site with its author and time; the difference of one against the current
// document; rollback (as a new version) after a confirmation.

import { get, sitePath } from '../api.js';
import { changeSite } from '../changes.js';
import { diffView } from '../diff.js';
import { actionButton, confirmDialog, errorText, formatTime, h, messageLine, replace, table } from '../dom.js';

export function render(root, ctx) {
  const message = messageLine();
  const list = h('div');
  const detail = h('div', { 'aria-live': 'polite' });
  root.append(h('h1', {}, 'History'), message, detail, list);
  let selected = null;

  async function load() {
    try {
      const versions = await get(sitePath(ctx.siteName, 'versions'));
      replace(list, table(['Version', 'Author', 'Time', 'Change', 'Actions'], versions.map((v) => {
        const current = v.version === ctx.site.version;
        const rollback = actionButton('Roll back', () => rollBack(v.version), ctx, { dataset: { action: 'rollback' } });
        if (current) {
          rollback.disabled = true;
          rollback.title = 'This is the current version.';
        }
        return h('tr', { dataset: { version: v.version }, class: v.version === selected ? 'selected' : '' },
          h('th', { scope: 'row' }, `${v.version}${current ? ' (current)' : ''}`),
          h('td', {}, v.author),
          h('td', {}, formatTime(v.createdAt)),
          h('td', {}, v.change),
          h('td', { class: 'row-actions' },
            h('button', { type: 'button', dataset: { action: 'diff' }, disabled: current, onclick: () => showDiff(v.version) }, 'Difference to current'),
            rollback));
      })));
    } catch (error) {
      replace(list, h('p', { class: 'message message-error' }, `The history could not be loaded: ${errorText(error)}`));
    }
  }

  async function showDiff(version) {
    selected = version;
    for (const row of list.querySelectorAll('tr[data-version]')) row.classList.toggle('selected', row.dataset.version === String(version));
    try {
      const old = await get(sitePath(ctx.siteName, 'versions', String(version)));
      const strip = ({ version: _, ...rest }) => rest; // the version number differs by definition
      replace(detail, h('div', { class: 'panel' },
        h('h2', {}, `From version ${version} to the current version ${ctx.site.version}`),
        h('p', { class: 'hint' }, 'Lines marked “-” are only in the old version, “+” only in the current one.'),
        diffView(strip(old), strip(ctx.site), { id: 'version-diff', tabIndex: 0 }),
        h('div', { class: 'actions' },
          actionButton(`Roll back to version ${version}`, () => rollBack(version), ctx),
          h('button', { type: 'button', onclick: () => { detail.replaceChildren(); selected = null; load(); } }, 'Close'))));
      detail.scrollIntoView({ block: 'start' });
      document.getElementById('version-diff').focus({ preventScroll: true });
    } catch (error) {
      message.show(`Version ${version} could not be loaded: ${errorText(error)}`, 'error');
    }
  }

  async function rollBack(version) {
    message.clear();
    if (!(await confirmDialog(`Roll the site back to version ${version}? This makes a new version with its content; the devices apply it.`, 'Roll back'))) return;
    try {
      await changeSite(ctx, 'POST', ['versions', String(version), 'rollback']);
      detail.replaceChildren();
      selected = null;
      message.show(`Rolled back to version ${version}: the site is now at version ${ctx.site.version}.`);
    } catch (error) {
      message.show(`The rollback failed: ${errorText(error)}`, 'error');
    }
  }

  ctx.on('site', load);
  load();
}
