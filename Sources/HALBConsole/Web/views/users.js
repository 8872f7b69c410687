// Users and API tokens (admins), and one's own password (everyone).

import { get, request } from '../api.js';
import { actionButton, confirmDialog, copyText, errorText, field, formatTime, h, messageLine, replace, select, table } from '../dom.js';
import { clearIssues, showIssues } from '../forms.js';

const ROLES = [['admin', 'admin (everything)'], ['read-only', 'read-only (look only)']];

export function render(root, ctx) {
  const me = ctx.session.user;
  const message = messageLine();
  root.append(h('h1', {}, 'Users and tokens'), message, ownPasswordForm(me, message));
  if (ctx.readOnly) {
    root.append(h('p', { class: 'muted' }, 'Users and API tokens are managed by admins.'));
    return;
  }

  const userList = h('div');
  const resetSlot = h('div');
  const tokenList = h('div');
  const tokenShown = h('div', { 'aria-live': 'polite' });
  root.append(
    h('h2', {}, 'Users'), userList, resetSlot, newUserForm(),
    h('h2', {}, 'API tokens'), tokenShown, tokenList, newTokenForm());

  async function loadUsers() {
    try {
      const users = await get('/users');
      replace(userList, table(['User', 'Role', 'Created', 'Actions'], users.map((u) => {
        const remove = actionButton('Delete', () => deleteUser(u.name), ctx, { dataset: { action: 'delete' }, class: 'danger' });
        if (u.name === me) {
          remove.disabled = true;
          remove.title = 'You cannot delete yourself.';
        }
        return h('tr', { dataset: { user: u.name } },
          h('th', { scope: 'row' }, u.name, u.name === me ? ' (you)' : ''),
          h('td', {}, u.role),
          h('td', {}, formatTime(u.createdAt)),
          h('td', { class: 'row-actions' },
            actionButton('Reset password', () => resetPassword(u.name), ctx, { dataset: { action: 'reset-password' } }),
            remove));
      })));
    } catch (error) {
      replace(userList, h('p', { class: 'message message-error' }, `The users could not be loaded: ${errorText(error)}`));
    }
  }

  async function deleteUser(name) {
    message.clear();
    if (!(await confirmDialog(`Delete user ${name} and all their tokens?`, 'Delete'))) return;
    try {
      await request('DELETE', `/users/${encodeURIComponent(name)}`);
      message.show(`User ${name} deleted.`);
      loadUsers();
      loadTokens();
    } catch (error) {
      message.show(`User ${name} was not deleted: ${errorText(error)}`, 'error');
    }
  }

  function resetPassword(name) {
    const password = h('input', { type: 'password', autocomplete: 'new-password', dataset: { path: 'password' }, minLength: 12 });
    const form = h('form', { class: 'panel', novalidate: true },
      h('h3', {}, `New password for ${name}`),
      userNameFor(name),
      field('New password (at least 12 characters)', password, 'Their other sign-in sessions end; API tokens stay valid.'),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Set password'),
        h('button', { type: 'button', onclick: () => resetSlot.replaceChildren() }, 'Cancel')));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearIssues(form);
      try {
        await request('PUT', `/users/${encodeURIComponent(name)}/password`, { body: { password: password.value } });
        resetSlot.replaceChildren();
        message.show(`The password of ${name} is set.`);
      } catch (error) {
        showIssues(form, { ...error, message: errorText(error) });
      }
    });
    replace(resetSlot, form);
    password.focus();
  }

  function newUserForm() {
    const name = h('input', { dataset: { path: 'name' }, autocomplete: 'off', required: true });
    const role = select(ROLES, { dataset: { path: 'role' } });
    const password = h('input', { type: 'password', autocomplete: 'new-password', dataset: { path: 'password' }, minLength: 12 });
    const form = h('form', { class: 'panel', novalidate: true },
      h('h3', {}, 'Add a user'),
      h('div', { class: 'grid' }, field('Name', name), field('Role', role), field('Password (at least 12 characters)', password)),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Add user')));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearIssues(form);
      try {
        await request('POST', '/users', { body: { name: name.value.trim(), password: password.value, role: role.value } });
        message.show(`User ${name.value.trim()} added.`);
        form.reset();
        loadUsers();
      } catch (error) {
        showIssues(form, { ...error, message: errorText(error) });
      }
    });
    return form;
  }

  async function loadTokens() {
    try {
      const tokens = await get('/tokens');
      replace(tokenList, table(['Name', 'User', 'Role', 'Kind', 'Created', 'Expires', 'Actions'], tokens.map((t) => h('tr', { dataset: { token: t.id } },
        h('th', { scope: 'row' }, t.name),
        h('td', {}, t.user),
        h('td', {}, t.role),
        h('td', {}, t.kind === 'session' ? 'sign-in session' : 'API'),
        h('td', {}, formatTime(t.createdAt)),
        h('td', {}, t.expiresAt ? formatTime(t.expiresAt) : 'never'),
        h('td', { class: 'row-actions' }, actionButton('Revoke', () => revoke(t), ctx, { dataset: { action: 'revoke' }, class: 'danger' }))))));
    } catch (error) {
      replace(tokenList, h('p', { class: 'message message-error' }, `The tokens could not be loaded: ${errorText(error)}`));
    }
  }

  async function revoke(token) {
    message.clear();
    if (!(await confirmDialog(`Revoke token ${token.name} of ${token.user}? Whatever uses it stops working at once.`, 'Revoke'))) return;
    try {
      await request('DELETE', `/tokens/${encodeURIComponent(token.id)}`);
      message.show(`Token ${token.name} revoked.`);
      loadTokens();
    } catch (error) {
      message.show(`Token ${token.name} was not revoked: ${errorText(error)}`, 'error');
    }
  }

  function newTokenForm() {
    const name = h('input', { dataset: { path: 'name' }, autocomplete: 'off', required: true });
    const role = select(ROLES, { dataset: { path: 'role' } });
    const form = h('form', { class: 'panel', novalidate: true },
      h('h3', {}, 'Create an API token'),
      h('div', { class: 'grid' }, field('Name', name, 'What it is for, such as “deploy”.'), field('Role', role)),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create token')));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearIssues(form);
      try {
        const { data } = await request('POST', '/tokens', { body: { name: name.value.trim(), role: role.value } });
        const copy = h('button', { type: 'button', onclick: () => copyText(data.token, copy) }, 'Copy');
        replace(tokenShown, h('div', { class: 'panel' },
          h('p', {}, `Token ${data.info.name}: copy it now, it is not shown again.`),
          h('pre', { class: 'command' }, h('code', { id: 'new-token' }, data.token)),
          h('div', { class: 'actions' }, copy, h('button', { type: 'button', onclick: () => tokenShown.replaceChildren() }, 'Done'))));
        form.reset();
        loadTokens();
        copy.focus();
      } catch (error) {
        showIssues(form, { ...error, message: errorText(error) });
      }
    });
    return form;
  }

  loadUsers();
  loadTokens();
}

/** Changing one's own password needs the current one. */
function ownPasswordForm(me, message) {
  const current = h('input', { type: 'password', autocomplete: 'current-password', dataset: { path: 'currentPassword' } });
  const password = h('input', { type: 'password', autocomplete: 'new-password', dataset: { path: 'password' }, minLength: 12 });
  const repeat = h('input', { type: 'password', autocomplete: 'new-password', dataset: { path: 'repeat' } });
  const form = h('form', { class: 'panel', novalidate: true, id: 'own-password' },
    h('h2', {}, `Your password (${me})`),
    userNameFor(me),
    h('div', { class: 'grid' },
      field('Current password', current),
      field('New password (at least 12 characters)', password),
      field('New password again', repeat)),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Change password')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearIssues(form);
    message.clear();
    if (password.value !== repeat.value) {
      showIssues(form, { message: 'The new passwords differ.', issues: [{ path: 'repeat', message: 'Type the same new password twice.' }] });
      return;
    }
    try {
      await request('PUT', `/users/${encodeURIComponent(me)}/password`, { body: { password: password.value, currentPassword: current.value } });
      form.reset();
      message.show('Your password is changed. Your other sign-in sessions have ended.');
    } catch (error) {
      showIssues(form, { ...error, message: errorText(error) });
    }
  });
  return form;
}

// Password managers (and Chrome) want the user a password form is for; it is not for editing.
function userNameFor(name) {
  return h('input', { type: 'text', autocomplete: 'username', value: name, hidden: true, readOnly: true, tabIndex: -1, 'aria-hidden': 'true' });
}
