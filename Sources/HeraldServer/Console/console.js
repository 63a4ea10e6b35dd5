// The shell: sign-in, the tenant picker, navigation and the hash router.
import {api, el, fill, flash, page, session, APIError} from './core.js';
import {overviewPage} from './overview.js';
import {destinationPage, newDestinationPage} from './destination.js';
import {deadLettersPage, deadLetterPage} from './deadletters.js';
import {playgroundPage} from './playground.js';
import {eventsPage, entityPage, changesPage} from './events.js';

const routes = {
  overview: overviewPage,
  destination: destinationPage,
  'new-destination': newDestinationPage,
  dlq: deadLettersPage,
  'dead-letter': deadLetterPage,
  playground: playgroundPage,
  events: eventsPage,
  entity: entityPage,
  changes: changesPage,
};

const navItems = [
  ['overview', 'Overview'], ['dlq', 'Dead letters'], ['playground', 'Filter playground'],
  ['events', 'Events'], ['changes', 'Changes'],
];

const main = () => document.getElementById('main');

async function signIn(token) {
  session.token = token;
  try {
    session.who = await api('/api/whoami');
  } catch (error) {
    session.token = null;
    session.who = null;
    throw error;
  }
  if (!session.who.tenants.includes(session.tenant)) session.tenant = session.who.tenants[0] || '';
}

function signOut() {
  session.token = null;
  session.who = null;
  sessionStorage.removeItem('herald.tenant');
  location.hash = '#/signin';
  render();
}

function signInPage(root) {
  const input = el('input', {id: 'token', type: 'password', autocomplete: 'off', size: 40,
    placeholder: 'bearer token'});
  const message = el('p.error', {id: 'signin-error'});
  const form = el('form#signin', {onsubmit: async e => {
    e.preventDefault();
    message.textContent = '';
    try {
      await signIn(input.value.trim());
      location.hash = '#/overview';
      render();
    } catch (error) {
      message.textContent = error instanceof APIError && error.status === 401
        ? 'This token is not one of the server\'s tokens.' : 'Sign-in failed: ' + error.message;
    }
  }},
    el('h1', 'Sign in'),
    el('p', 'Paste one of the bearer tokens of the server\'s configuration (server.tokens). It is kept in this tab ' +
      '(sessionStorage) until you sign out or close it, and sent as an Authorization header, never as a cookie.'),
    el('p.muted', 'On a server without tokens (loopback only), leave it empty.'),
    el('label', 'Token ', input), ' ', el('button', {type: 'submit', id: 'signin-button'}, 'Sign in'), message);
  fill(root, form);
  input.focus();
}

function renderChrome() {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  if (!session.who) {
    nav.replaceChildren();
    who.replaceChildren();
    return;
  }
  const current = (location.hash.split('/')[1] || 'overview');
  const picker = el('select#tenant', {onchange: e => { session.tenant = e.target.value; render(); }},
    session.who.tenants.map(t => el('option', {value: t, selected: t === session.tenant}, t)));
  fill(nav, el('label.tenant', 'Tenant ', picker),
    navItems.map(([route, title]) => el('a', {href: '#/' + route, class: route === current ? 'current' : null}, title)));
  fill(who, el('span#user', session.who.user), ' ', el('span#role.badge', session.who.role), ' ',
    el('button#signout', {type: 'button', onclick: signOut}, 'Sign out'));
}

async function render() {
  page.stop();
  const root = main();
  if (!session.who && session.token !== null) {
    try {
      await signIn(session.token);
    } catch {
      // fall through to the sign-in form
    }
  }
  renderChrome();
  if (!session.who) {
    signInPage(root);
    return;
  }
  if (session.who.tenants.length === 0) {
    fill(root, el('p.warning', `Signed in as ${session.who.user}, whose token may act on none of this server's tenants.`));
    return;
  }
  const [name, ...args] = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const handler = routes[name] || overviewPage;
  // Each visit renders into a view of its own: a page still loading when the route changes fills a detached one.
  const view = el('div.view', el('p.muted', 'Loading…'));
  fill(root, view);
  try {
    await handler(view, ...args);
  } catch (error) {
    if (error instanceof APIError && error.status === 401) {
      flash('The server no longer accepts this token; sign in again.', 'error');
      signOut();
      return;
    }
    fill(view, el('p.error', 'This page failed: ' + (error.code ? error.code + ': ' : '') + error.message));
  }
}

window.addEventListener('hashchange', render);
render();
