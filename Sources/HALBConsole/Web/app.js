// The page's shell: session, site, the live status long poll, the header, navigation and the hash router.
// Each view is a module in views/ exporting `render(root, ctx)`; `ctx` (below) is what views share.

import { ApiError, get, onUnauthorized, request, setCsrfToken, sitePath } from './api.js';
import { h, replace, select } from './dom.js';
import * as signin from './views/signin.js';
import * as overview from './views/overview.js';
import * as virtualServers from './views/virtual-servers.js';
import * as gateways from './views/gateways.js';
import * as devices from './views/devices.js';
import * as certificates from './views/certificates.js';
import * as history from './views/history.js';
import * as audit from './views/audit.js';
import * as users from './views/users.js';

const VIEWS = {
  overview,
  'virtual-servers': virtualServers,
  gateways,
  devices,
  certificates,
  history,
  audit,
  users,
};
// Views that make sense without a site.
const SITELESS_VIEWS = new Set(['audit', 'users']);

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const banner = document.getElementById('connection-lost');

/** What views share. `on(event, fn)` subscriptions last until the next route change. */
const ctx = {
  session: null, // {user, role, csrfToken}
  sites: [], // [{name, version}]
  siteName: null,
  site: null, // the current site document
  status: null, // the latest SiteStatus
  get readOnly() { return !this.session || this.session.role === 'read-only'; },
  get version() { return this.site ? this.site.version : null; },
  on(event, fn) { listeners.push({ event, fn }); },
  reloadSite,
};

let listeners = [];
let viewCleanup = null;
let statusController = null;

function emit(event) {
  for (const listener of listeners.filter((l) => l.event === event)) {
    try {
      listener.fn();
    } catch (error) {
      showFatal(error);
    }
  }
}

function showFatal(error) {
  main.append(h('p', { class: 'message message-error', role: 'alert' }, `Something went wrong on this page: ${error.message || error}`));
}

// ---- Session ----

async function start() {
  onUnauthorized(signedOut);
  try {
    const { data } = await request('GET', '/session');
    await signedIn(data);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) signedOut();
    else replace(main, h('p', { class: 'message message-error', role: 'alert' }, `Cannot load the console: ${error.message}`));
  }
}

async function signedIn(session) {
  ctx.session = session;
  setCsrfToken(session.csrfToken);
  document.getElementById('whoami').textContent = `${session.user} (${session.role})`;
  document.getElementById('signout').hidden = false;
  nav.hidden = false;
  try {
    ctx.sites = await get('/sites');
    const remembered = sessionStorage.getItem('halb-site');
    const chosen = ctx.sites.find((s) => s.name === remembered) || ctx.sites[0];
    await chooseSite(chosen ? chosen.name : null);
  } catch (error) {
    if (error.status !== 401) replace(main, h('p', { class: 'message message-error', role: 'alert' }, `Cannot load the sites: ${error.message}`));
  }
}

function signedOut() {
  ctx.session = null;
  ctx.site = null;
  ctx.status = null;
  setCsrfToken(null);
  stopStatus();
  banner.hidden = true;
  nav.hidden = true;
  document.getElementById('whoami').textContent = '';
  document.getElementById('signout').hidden = true;
  document.getElementById('site-name').textContent = '';
  document.getElementById('site-picker-slot').replaceChildren();
  cleanupView();
  signin.render(main, signedIn);
}

async function signOut() {
  try {
    await request('DELETE', '/session');
  } catch {
    // Signed out locally either way; the cookie expires on its own.
  }
  signedOut();
}

// ---- Site ----

async function chooseSite(name) {
  ctx.siteName = name;
  ctx.site = null;
  ctx.status = null;
  document.getElementById('site-name').textContent = name ? `Site ${name}` : 'No site';
  renderSitePicker();
  stopStatus();
  if (name) {
    sessionStorage.setItem('halb-site', name);
    await reloadSite();
    startStatus();
  }
  route();
}

function renderSitePicker() {
  const slot = document.getElementById('site-picker-slot');
  if (ctx.sites.length < 2) {
    slot.replaceChildren();
    return;
  }
  const picker = select(ctx.sites.map((s) => s.name), { id: 'site-picker', value: ctx.siteName });
  picker.addEventListener('change', () => chooseSite(picker.value));
  replace(slot, h('label', { for: 'site-picker', class: 'visually-hidden' }, 'Site'), picker);
}

let siteLoad = null;

/** Fetches the current site document (one fetch at a time) and tells the views. */
async function reloadSite() {
  if (!ctx.siteName) return;
  if (!siteLoad) {
    const name = ctx.siteName;
    siteLoad = get(sitePath(name))
      .then((site) => {
        // Every change raises the version: the same version is the same document, and views need not redraw.
        if (name === ctx.siteName && (!ctx.site || site.version !== ctx.site.version)) {
          ctx.site = site;
          emit('site');
        }
      })
      .finally(() => { siteLoad = null; });
  }
  return siteLoad;
}

// ---- Live status: a long poll, retried with backoff while the console is unreachable ----

function stopStatus() {
  if (statusController) statusController.abort();
  statusController = null;
}

function startStatus() {
  stopStatus();
  const controller = new AbortController();
  statusController = controller;
  pollStatus(ctx.siteName, controller.signal);
}

const sleep = (ms, signal) => new Promise((resolve) => {
  const timer = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
});

async function pollStatus(site, signal) {
  let since = null;
  let backoff = 1000;
  while (!signal.aborted) {
    try {
      const query = since ? `?wait=25&since=${encodeURIComponent(since)}` : '?wait=25';
      const status = await get(sitePath(site, 'status') + query, { signal });
      if (signal.aborted) return;
      banner.hidden = true;
      backoff = 1000;
      const unchanged = since !== null && status.fingerprint === since;
      since = status.fingerprint;
      ctx.status = status;
      if (!ctx.site || status.version !== ctx.site.version) await reloadSite().catch(() => {});
      emit('status');
      // The server waits for a change; one that answers at once without any must not make this spin.
      if (unchanged) await sleep(1000, signal);
    } catch (error) {
      if (signal.aborted || error.name === 'AbortError') return;
      if (error.status === 401) return; // the sign-in form is showing
      banner.hidden = false;
      await sleep(backoff, signal);
      backoff = Math.min(backoff * 2, 10000);
    }
  }
}

// ---- Router ----

function cleanupView() {
  listeners = [];
  if (typeof viewCleanup === 'function') viewCleanup();
  viewCleanup = null;
}

function currentViewName() {
  const name = location.hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  return Object.hasOwn(VIEWS, name) ? name : 'overview';
}

function route() {
  if (!ctx.session) return;
  cleanupView();
  const name = currentViewName();
  for (const link of nav.querySelectorAll('a')) {
    if (link.getAttribute('href') === `#/${name}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const root = h('section', { id: `view-${name}`, class: 'view' });
  replace(main, root);
  if (!ctx.site && !SITELESS_VIEWS.has(name)) {
    root.append(h('h1', {}, 'No site'),
      h('p', {}, ctx.siteName ? 'The site could not be loaded.' : 'The console has no site yet. Create one with `halb import FILE` or POST /api/v1/sites.'));
    return;
  }
  try {
    const result = VIEWS[name].render(root, ctx);
    if (result && typeof result.then === 'function') {
      result.then((cleanup) => { viewCleanup = cleanup; }, (error) => showFatal(error));
    } else {
      viewCleanup = result;
    }
  } catch (error) {
    showFatal(error);
  }
}

window.addEventListener('hashchange', () => {
  route();
  main.focus({ preventScroll: true });
});
document.getElementById('signout').addEventListener('click', signOut);
window.addEventListener('unhandledrejection', (event) => {
  // Every API call is caught where it is made; this keeps an overlooked one visible in the page, not the console.
  event.preventDefault();
  if (event.reason && event.reason.name !== 'AbortError') showFatal(event.reason);
});

start();
