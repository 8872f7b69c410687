// Validation issues from the API next to the fields they concern. Every input that edits a field carries
// `data-path` with the field's path inside the item it edits (`payloads.ssl.port`); the API's issue paths start
// from the site (`virtualServers[0].payloads.ssl.port`) or from the item, so they are matched by suffix.

import { h } from './dom.js';

/** The element of `form` an issue path belongs to: the exact field, else its nearest enclosing one. */
export function fieldForPath(form, issuePath) {
  let best = null;
  let bestLength = -1;
  for (const el of form.querySelectorAll('[data-path]')) {
    const path = el.dataset.path;
    if (path.length <= bestLength) continue;
    if (suffixMatch(issuePath, path) || enclosing(issuePath, path)) {
      best = el;
      bestLength = path.length;
    }
  }
  return best;
}

// `path` is the whole issue path, or its end after the list element it is in (`virtualServers[0].` + path).
function suffixMatch(issuePath, path) {
  if (issuePath === path) return true;
  if (!issuePath.endsWith(`.${path}`)) return false;
  return /^[A-Za-z]+\[\d+\]$/.test(issuePath.slice(0, -path.length - 1));
}

// An issue deeper than any field (`payloads.ssl.sni.a\.example[0]`) goes to the field that holds it.
function enclosing(issuePath, path) {
  for (const root of [issuePath, issuePath.replace(/^[A-Za-z]+\[\d+\]\./, '')]) {
    if (root.startsWith(path) && (root[path.length] === '.' || root[path.length] === '[')) return true;
  }
  return false;
}

/** Removes the issues shown by `showIssues`. */
export function clearIssues(form) {
  for (const el of form.querySelectorAll('.field-error, .issue-summary')) el.remove();
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

/**
 * Shows `error` (an ApiError) in `form`: each issue after its field, the rest (and the error itself when no
 * issue matched a field) in a summary at the top. Returns the first field with an issue, if any.
 */
export function showIssues(form, error) {
  clearIssues(form);
  const unmatched = [];
  let first = null;
  for (const issue of error.issues || []) {
    const el = fieldForPath(form, issue.path || '');
    if (!el) {
      unmatched.push(issue);
      continue;
    }
    first = first || el;
    el.setAttribute('aria-invalid', 'true');
    const note = h('p', { class: 'field-error', id: `${el.id || 'field'}-error` }, issue.message);
    (el.closest('.field') || el).after(note);
    if (el.id) el.setAttribute('aria-describedby', note.id);
  }
  if (unmatched.length || !first) {
    const summary = h('div', { class: 'issue-summary', role: 'alert' },
      h('p', {}, error.message),
      unmatched.length ? h('ul', {}, unmatched.map((i) => h('li', {}, i.path ? `${i.path}: ${i.message}` : i.message))) : null);
    form.prepend(summary);
  }
  return first;
}

/** The value of a text input, or undefined when empty (so the API fills in its default). */
export function textValue(input) {
  const value = input.value.trim();
  return value === '' ? undefined : value;
}

/** The value of a number input as an integer, undefined when empty, the raw text when not a number (the API says why). */
export function intValue(input) {
  const value = input.value.trim();
  if (value === '') return undefined;
  const number = Number(value);
  return Number.isInteger(number) ? number : value;
}

/** Sets `key` of `object` to `value`, or deletes it when `value` is undefined. */
export function setOrDelete(object, key, value) {
  if (value === undefined) delete object[key];
  else object[key] = value;
}
