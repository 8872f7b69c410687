// The sign-in form: POST /api/v1/session with the user's name and password; the console answers with the
// session (and sets its cookie).

import { request } from '../api.js';
import { field, h, replace } from '../dom.js';

/** Shows the form in `main`; `onSignedIn(session)` runs once the console accepted the password. */
export function render(main, onSignedIn) {
  const user = h('input', { id: 'signin-user', name: 'user', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: false });
  const password = h('input', { id: 'signin-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const error = h('p', { id: 'signin-error', class: 'message message-error', role: 'alert', hidden: true });
  const submit = h('button', { id: 'signin-submit', type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { id: 'signin-form', class: 'signin', novalidate: true },
    h('h1', {}, 'Sign in to the HALB console'),
    field('User', user),
    field('Password', password),
    error,
    h('div', { class: 'actions' }, submit));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    if (!user.value || !password.value) {
      error.textContent = 'Enter your user name and password.';
      error.hidden = false;
      return;
    }
    submit.disabled = true;
    try {
      const { data } = await request('POST', '/session', { body: { user: user.value, password: password.value } });
      password.value = '';
      await onSignedIn(data);
    } catch (failure) {
      error.textContent = failure.status === 401 ? 'Wrong user name or password.' : failure.message;
      error.hidden = false;
      password.select();
    } finally {
      submit.disabled = false;
    }
  });

  replace(main, h('section', { id: 'view-signin', class: 'view' }, form));
  user.focus();
}
