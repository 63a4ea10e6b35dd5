// Shared by every page: DOM building (text only, never markup from data), the API client, the session,
// formatting. The console never parses data as markup: every value goes through text nodes or attributes.

/** el('tag#id.class', {attr: value, onclick: fn}, child, …): children are nodes or text (strings, numbers). */
export function el(spec, attrs, ...children) {
  const node = document.createElement(spec.match(/^[a-z0-9]*/)[0] || 'div');
  const id = spec.match(/#([\w-]+)/);
  if (id) node.id = id[1];
  const classes = [...spec.matchAll(/\.([\w-]+)/g)].map(m => m[1]);
  if (classes.length) node.className = classes.join(' ');
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'text') node.textContent = String(value);
    else if (key === 'value') node.value = value;
    else if (key === 'checked' || key === 'disabled' || key === 'selected') node[key] = Boolean(value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of `node`. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

const SVG = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  append(node, children);
  return node;
}

/** A link inside the console: the hash route is built from encoded parts. */
export function link(text, ...parts) {
  return el('a', {href: '#/' + parts.map(encodeURIComponent).join('/')}, text);
}

// ---- session ---------------------------------------------------------------------------------------------

/** The signed-in caller: token (sessionStorage only, never a cookie), whoami's answer, the chosen tenant. */
export const session = {
  get token() { return sessionStorage.getItem('herald.token'); },
  set token(t) { t === null ? sessionStorage.removeItem('herald.token') : sessionStorage.setItem('herald.token', t); },
  who: null,
  get tenant() { return sessionStorage.getItem('herald.tenant') || (this.who && this.who.tenants[0]) || ''; },
  set tenant(t) { sessionStorage.setItem('herald.tenant', t); },
  can(role) {
    const rank = {read: 0, write: 1, admin: 2};
    return !!this.who && rank[this.who.role] >= rank[role];
  },
};

// ---- API -------------------------------------------------------------------------------------------------

export class APIError extends Error {
  constructor(status, body) {
    super((body && body.errorMessage) || `HTTP ${status}`);
    this.status = status;
    this.code = (body && body.errorCode) || '';
    this.body = body || {};
  }
  /** The route does not exist on this server (an older Herald): the page shows "not available". */
  get missing() { return this.status === 404 && this.code === 'NOT_FOUND' || this.status === 405; }
}

/** Calls the API. Writes always send Content-Type: application/json (the server refuses forgeable writes). */
export async function api(path, {method = 'GET', body} = {}) {
  const headers = {Accept: 'application/json'};
  if (session.token) headers.Authorization = 'Bearer ' + session.token;
  if (method !== 'GET') headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method, headers, credentials: 'omit', cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let json = null;
  const text = await response.text();
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!response.ok) throw new APIError(response.status, json);
  return json;
}

/** `/api/{tenant}` + path, for the chosen tenant. */
export function tenantPath(path) {
  return '/api/' + encodeURIComponent(session.tenant) + path;
}

// ---- page helpers ----------------------------------------------------------------------------------------

/** A message box for an error; "not available on this server" for a route the server lacks. */
export function problem(error, what) {
  if (error instanceof APIError && error.missing) {
    return el('p.unavailable', `${what}: not available on this server.`);
  }
  const text = error instanceof APIError ? `${error.code || error.status}: ${error.message}` : String(error);
  return el('p.error', `${what}: ${text}`);
}

/** Shows a short message at the top of the page. */
export function flash(text, kind = 'info') {
  const box = document.getElementById('flash');
  fill(box, el('span.' + kind, text));
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => box.replaceChildren(), 6000);
}

/** Timers and listeners of the current page, stopped when the route changes. */
export const page = {
  timers: [],
  /** Runs fn every ms while `view` is on screen. */
  every(ms, view, fn) {
    const id = setInterval(() => view.isConnected ? fn() : clearInterval(id), ms);
    this.timers.push(id);
  },
  stop() { this.timers.forEach(clearInterval); this.timers = []; },
};

/** Renders the current route again (after the tenant changed, or a change on the page). */
export function rerender() {
  window.dispatchEvent(new Event('hashchange'));
}

export function debounce(ms, fn) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

// ---- formatting ------------------------------------------------------------------------------------------

export const num = n => (n === undefined || n === null) ? '–' : Number(n).toLocaleString('en-US');
export const time = ms => (ms === undefined || ms === null) ? '–' : new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
export const seconds = s => (s === undefined || s === null) ? '–' : (s < 10 ? Number(s).toFixed(1) : Math.round(s)) + ' s';

/** A table: columns [{title, cell: row => node|text}], rows. */
export function table(columns, rows, rowAttrs = () => ({})) {
  return el('table',
    el('thead', el('tr', columns.map(c => el('th', c.title)))),
    el('tbody', rows.map(r => el('tr', rowAttrs(r), columns.map(c => el('td', c.attrs ? c.attrs(r) : null, c.cell(r)))))));
}

/** Pretty JSON as text (a <pre>), never as markup. */
export function pre(value) {
  return el('pre.json', typeof value === 'string' ? value : JSON.stringify(value, null, 2));
}

/** Asks before a destructive action. */
export function confirmAction(text) {
  return window.confirm(text);
}

export const EVENT_TYPES = [
  'ENTITY_CREATED', 'ENTITY_CHANGED', 'ENTITY_REMOVED', 'ENTITIES_MERGED', 'ENTITY_LOST_MERGE', 'ENTITIES_SPLITTED',
  'POTENTIAL_MATCHES_FOUND', 'POTENTIAL_MATCHES_REMOVED', 'RELATIONSHIP_CREATED', 'RELATIONSHIP_CHANGED',
  'RELATIONSHIP_REMOVED',
];
