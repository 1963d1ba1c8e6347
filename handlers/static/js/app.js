// The console's shell: session, language, routing (#/incidents, #/incidents/<id>/<tab>, #/notifications) and the
// live stream.
import { t, applyStatic, getLang, setLang, onLangChange, setTimezone } from './i18n.js';
import { get, request, setCsrf, onUnauthorized } from './api.js';
import { h, problemText } from './dom.js';
import { Live } from './live.js';
import * as signin from './screens/signin.js';
import * as incidents from './screens/incidents.js';
import * as frame from './screens/frame.js';
import * as notifications from './screens/notifications.js';
import * as organizations from './screens/organizations.js';
import * as webhooks from './screens/webhooks.js';

const main = document.getElementById('main');
const who = document.getElementById('who');
const signOutButton = document.getElementById('signout');
const langButton = document.getElementById('lang');
const notice = document.getElementById('notice');
// The console's own pages beside the incidents (the brand link): for dispatchers and admins, the email log.
const emailLink = h('a', { href: '#/notifications' });
// Every staff role reads the organizations and the webhooks (and their delivery logs); actions follow the role.
const orgLink = h('a', { href: '#/organizations' });
const hooksLink = h('a', { href: '#/webhooks' });
const topNav = h('nav', { class: 'top-nav', hidden: true }, orgLink, hooksLink, emailLink);
const TOP_LINKS = { organizations: orgLink, webhooks: hooksLink, notifications: emailLink };
document.querySelector('.top-actions').before(topNav);

const state = { session: null, mounted: null, token: 0 };
const live = new Live({
  onChange: () => state.mounted?.refresh?.().catch(showError),
  onState: (value) => frame.showLiveState(value),
});

function adopt(session) {
  state.session = session;
  setCsrf(session ? session.csrf_token : null);
  renderHeader();
}

function renderHeader() {
  const session = state.session;
  who.hidden = !session;
  signOutButton.hidden = !session;
  who.textContent = session ? t('session.signedInAs', { name: session.name, role: t(`enum.role.${session.role}`) }) : '';
  const other = getLang() === 'zh' ? 'en' : 'zh';
  langButton.textContent = t('lang.other');
  langButton.lang = other;
  langButton.setAttribute('aria-label', t('lang.switchLabel'));
  langButton.dataset.lang = other;
  topNav.hidden = !session;
  emailLink.hidden = !['dispatcher', 'admin'].includes(session?.role);
  orgLink.textContent = t('nav.organizations');
  hooksLink.textContent = t('nav.webhooks');
  topNav.setAttribute('aria-label', t('nav.console'));
  emailLink.textContent = t('nav.notifications');
}

let noticeTimer = null;
function notify(message, kind = 'ok') {
  notice.textContent = message;
  notice.className = `notice notice-${kind}`;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { notice.textContent = ''; notice.className = 'notice'; }, 6000);
}

function showError(error) {
  notify(problemText(error), 'error');
}

function parseHash() {
  const hash = window.location.hash.startsWith('#/') ? window.location.hash : '#/incidents';
  return hash.slice(2).split('/').filter(Boolean).map(decodeURIComponent);
}

async function route(focus) {
  const parts = parseHash();
  const token = ++state.token;
  for (const [name, link] of Object.entries(TOP_LINKS)) {
    if (parts[0] === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  state.mounted?.unmount?.();
  state.mounted = null;
  const root = h('div', { class: 'screen' });
  main.replaceChildren(root);
  const ctx = {
    root,
    session: state.session,
    canDispatch: ['dispatcher', 'admin'].includes(state.session?.role),
    isAdmin: state.session?.role === 'admin',
    notify,
    showError,
    go: (hash) => { window.location.hash = hash; },
    onSignedIn: (session) => { adopt(session); route(true); },
  };
  let mounted;
  try {
    if (!state.session) {
      live.close();
      mounted = await signin.mount(ctx);
    } else if (parts[0] === 'incidents' && parts[1]) {
      live.open(parts[1]);
      mounted = await frame.mount({ ...ctx, incidentId: parts[1], liveState: () => live.state }, parts[2] || 'room');
    } else if (parts[0] === 'organizations') {
      live.close();
      mounted = await organizations.mount(ctx);
    } else if (parts[0] === 'webhooks') {
      live.close();
      mounted = await webhooks.mount(ctx, parts[1]);
    } else if (parts[0] === 'notifications') {
      live.close();
      mounted = await notifications.mount(ctx);
    } else {
      live.close();
      mounted = await incidents.mount(ctx);
    }
  } catch (error) {
    if (token !== state.token) return;
    root.replaceChildren(h('h1', { tabindex: '-1', text: t('common.errorHeading') }),
      h('p', { class: 'form-error', role: 'alert', text: problemText(error) }),
      h('p', {}, h('a', { href: '#/incidents', text: t('nav.incidents') })));
    return;
  }
  if (token !== state.token) { mounted?.unmount?.(); return; }
  state.mounted = mounted;
  root.dataset.ready = 'true'; // the screen has its data (the browser tests wait for this)
  document.title = `${mounted?.title ? `${mounted.title} · ` : ''}${t('app.title')}`;
  if (focus) root.querySelector('h1')?.focus();
}

async function signOut() {
  try {
    await request('DELETE', '/console/session');
  } catch (error) {
    if (error.status !== 401) { showError(error); return; }
  }
  live.close();
  adopt(null);
  notify(t('session.signedOut'));
  window.location.hash = '#/incidents';
  route(true);
}

async function boot() {
  document.documentElement.lang = getLang() === 'zh' ? 'zh-CN' : 'en-US';
  applyStatic();
  renderHeader();
  langButton.addEventListener('click', () => setLang(langButton.dataset.lang));
  // The skip link moves focus without touching the hash, which is the router's.
  document.querySelector('.skip-link').addEventListener('click', (event) => {
    event.preventDefault();
    main.focus();
  });
  signOutButton.addEventListener('click', signOut);
  onLangChange(() => {
    clearTimeout(noticeTimer); // a notice in the other language would linger untranslated
    notice.textContent = '';
    notice.className = 'notice';
    applyStatic();
    renderHeader();
    route(false);
  });
  onUnauthorized(() => {
    if (!state.session) return;
    live.close();
    adopt(null);
    notify(t('session.expired'), 'error');
    route(true);
  });
  try {
    setTimezone((await get('/console/config')).timezone);
  } catch { /* the default zone stays */ }
  try {
    // 200 either way: {"signed_in": false} without a live session, so the probe logs no failed request.
    const session = await get('/console/session');
    adopt(session && session.signed_in !== false ? session : null);
  } catch {
    adopt(null);
  }
  window.addEventListener('hashchange', () => route(true));
  await route(false);
  document.body.dataset.ready = 'true';
}

boot();
