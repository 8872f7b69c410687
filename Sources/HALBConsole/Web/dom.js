// Small DOM helpers. Text always goes in as text nodes or properties, never as HTML, so nothing the API returns
// can inject markup; and nothing uses style attributes, which the Content-Security-Policy forbids.

/**
 * Creates `<tag>` with `attrs` and `children` (nodes, strings, arrays; null and false are skipped).
 * Attributes: `class`, `dataset` (object), `on<event>` (listener), and any other as a property when the element
 * has one (value, checked, disabled, hidden...) else as an attribute (null skipped, false leaves it out).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  append(el, children);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key in el && key !== 'list' && key !== 'form') el[key] = value;
    else if (value !== false) el.setAttribute(key, value === true ? '' : String(value));
  }
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child == null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Removes every child of `el`, then appends `children`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let idCounter = 0;

/** A unique id for label/input pairs. */
export function uid(prefix = 'f') {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** A labelled field: `<div class="field"><label>…</label><input …><p class="hint"></p></div>`. */
export function field(label, input, hint) {
  if (!input.id) input.id = uid();
  return h('div', { class: 'field' },
    h('label', { for: input.id }, label),
    input,
    hint ? h('p', { class: 'hint' }, hint) : null);
}

/** A labelled checkbox, label after the box. */
export function checkbox(label, attrs = {}) {
  const input = h('input', { type: 'checkbox', id: uid(), ...attrs });
  return h('div', { class: 'field field-check' }, input, h('label', { for: input.id }, label));
}

/** A `<select>` of `options` (strings or [value, label]). */
export function select(options, attrs = {}) {
  return h('select', attrs, options.map((o) => {
    const [value, label] = Array.isArray(o) ? o : [o, o];
    return h('option', { value }, label);
  }));
}

/** A table with a header row; rows are `<tr>` elements. Wrapped so narrow windows scroll it sideways. */
export function table(headers, rows, caption) {
  return h('div', { class: 'table-wrap' },
    h('table', {},
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colSpan: headers.length, class: 'muted' }, 'None.')))));
}

export const READ_ONLY_REASON = 'Your role is read-only: you can look but not change anything.';

/** Disables `button` (with the reason as its title) when the user is read-only. Returns the button. */
export function guard(button, ctx) {
  if (ctx.readOnly) {
    button.disabled = true;
    button.title = READ_ONLY_REASON;
  }
  return button;
}

/** A button that runs `action` (async); read-only users get it disabled. */
export function actionButton(label, action, ctx, attrs = {}) {
  return guard(h('button', { type: 'button', onclick: action, ...attrs }, label), ctx);
}

/** A status line for success and error messages; `show(text, kind)` with kind `ok` or `error`. */
export function messageLine() {
  const el = h('p', { class: 'message', role: 'status', hidden: true });
  el.show = (text, kind = 'ok') => {
    el.textContent = text;
    el.className = `message message-${kind}`;
    el.hidden = !text;
  };
  el.clear = () => { el.hidden = true; };
  return el;
}

/** The words to show for an API error. */
export function errorText(error) {
  if (error && error.status === 412) return 'The site was changed meanwhile by someone else: it has been reloaded, check and try again.';
  if (error && error.status === 403) return `Not allowed: ${error.message}`;
  return (error && error.message) || String(error);
}

/** An ISO time as local date and time. */
export function formatTime(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** An ISO time as "12 s ago", "3 min ago"... */
export function ago(iso, now = Date.now()) {
  if (!iso) return 'never';
  const seconds = Math.round((now - new Date(iso).getTime()) / 1000);
  if (!Number.isFinite(seconds)) return iso;
  if (seconds < 60) return `${Math.max(seconds, 0)} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} days ago`;
}

/**
 * Asks a yes/no question in the page's `<dialog>` and resolves to true for yes. Escape or Cancel say no.
 */
export function confirmDialog(message, yesLabel = 'Yes') {
  const dialog = document.getElementById('confirm-dialog');
  const yes = document.getElementById('confirm-yes');
  const no = document.getElementById('confirm-no');
  document.getElementById('confirm-message').textContent = message;
  yes.textContent = yesLabel;
  return new Promise((resolve) => {
    const finish = (answer) => {
      yes.removeEventListener('click', onYes);
      no.removeEventListener('click', onNo);
      dialog.removeEventListener('close', onClose);
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    const onYes = () => finish(true);
    const onNo = () => finish(false);
    const onClose = () => finish(false);
    yes.addEventListener('click', onYes);
    no.addEventListener('click', onNo);
    dialog.addEventListener('close', onClose);
    dialog.showModal();
    no.focus();
  });
}

/** Copies `text` to the clipboard and says so on `button` for a moment. */
export async function copyText(text, button) {
  const label = button.textContent;
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = 'Copied';
  } catch {
    button.textContent = 'Copy failed: select the text';
  }
  setTimeout(() => { button.textContent = label; }, 2000);
}
