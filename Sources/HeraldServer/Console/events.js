// Events (the tail of the CRUD queue by type), one entity (attributes with their operational values, crosswalks,
// merge history, its events in order) and the audit list of streaming changes.
import {api, el, EVENT_TYPES, fill, link, num, pre, problem, table, tenantPath, time} from './core.js';

const shortType = uri => String(uri || '').split('/').pop();

/** A short label for an entity: its first operational value of a name-like attribute, as text. */
export function label(object) {
  const attributes = (object && object.attributes) || {};
  const names = ['Name', 'FirstName', 'LastName'].filter(n => attributes[n]).concat(Object.keys(attributes));
  const parts = [];
  for (const n of names.slice(0, 2)) {
    const v = (attributes[n] || []).find(x => x && x.ov !== false && typeof x.value !== 'object');
    if (v && !parts.includes(String(v.value))) parts.push(String(v.value));
  }
  return parts.join(' ');
}

const entityLink = uri => String(uri).startsWith('entities/') ? link(uri, 'entity', uri.slice(9)) : uri;

function eventTable(events) {
  return table([
    {title: 'Seq', cell: e => num(e.seq)}, {title: 'Time', cell: e => time(e.time)}, {title: 'Type', cell: e => e.type},
    {title: 'Object', cell: e => entityLink(e.objectUri)}, {title: 'Version', cell: e => num(e.objectVersion)},
    {title: 'Entity', cell: e => el('span.label', label(e.object))},
    {title: '', cell: e => el('details', el('summary', 'event'), pre(e))},
  ], events, e => ({'data-seq': e.seq}));
}

export async function eventsPage(view) {
  const saved = JSON.parse(sessionStorage.getItem('herald.events') || '{}');
  const boxes = EVENT_TYPES.map(t => el('input', {type: 'checkbox', value: t, checked: (saved.types || []).includes(t), onchange: load}));
  const tail = el('input#tail', {type: 'number', min: 1, max: 1000, value: saved.tail || 50, size: 6, onchange: load});
  const listBox = el('div#events-list');
  fill(view, el('h1', 'Events'),
    el('details', el('summary', 'Event types (none checked: all)'), el('div.types', boxes.map(b => el('label.check', b, b.value)))),
    el('p', el('label', 'Newest ', tail, ' events'), ' ', el('button#events-refresh', {type: 'button', onclick: load}, 'Refresh')),
    listBox);

  // A load started earlier (other types, another tail) may answer after a later one: only the latest fills the list.
  let latest = 0;
  async function load() {
    const mine = ++latest;
    const types = boxes.filter(b => b.checked).map(b => b.value);
    const n = Math.max(1, Math.min(1000, Number(tail.value) || 50));
    sessionStorage.setItem('herald.events', JSON.stringify({types, tail: n}));
    const query = new URLSearchParams({tail: n});
    if (types.length) query.set('type', types.join(','));
    let events;
    let note = null;
    try {
      events = (await api(tenantPath('/events?' + query))).events || [];
      if (events.length > n) {
        // A server without ?tail= answers from the start of the queue: read on to its end (a bounded number of pages).
        note = el('p.muted', 'This server cannot tail the queue; the console read it from the start.');
        events = await readToEnd(types, n);
      }
    } catch (error) {
      if (mine === latest) fill(listBox, problem(error, 'Events'));
      return;
    }
    if (mine !== latest) return;
    if (types.length) events = events.filter(e => types.includes(e.type));
    fill(listBox, note, events.length ? eventTable(events.slice(-n)) : el('p.muted', 'No events.'));
  }
  await load();
}

/** The last `n` events of `types`, reading the whole queue page by page (at most 20 pages of 10,000). */
async function readToEnd(types, n) {
  let kept = [];
  let after = 0;
  for (let page = 0; page < 20; page++) {
    const answer = await api(tenantPath('/events?' + new URLSearchParams({after, limit: 10000})));
    const events = answer.events || [];
    kept = kept.concat(types.length ? events.filter(e => types.includes(e.type)) : events).slice(-n);
    if (events.length < 10000) break;
    after = answer.next;
  }
  return kept;
}

export async function entityPage(view, id) {
  let entity;
  try {
    entity = await api(tenantPath('/entities/' + encodeURIComponent(id)));
  } catch (error) {
    fill(view, el('h1', 'Entity ', id), problem(error, 'Entity'));
    return;
  }
  const mergesBox = el('div#merges', el('p.muted', 'Loading…'));
  const eventsBox = el('div#entity-events', el('p.muted', 'Loading…'));
  fill(view,
    el('h1', 'Entity ', el('span#entity-label', label(entity)), ' ', el('code', entity.uri)),
    entity.redirectedFrom ? el('p.warning', `${entity.redirectedFrom} lost a merge; this is the winner.`) : null,
    el('dl.facts', [['Type', shortType(entity.type)], ['Created', `${time(entity.createdTime)} by ${entity.createdBy || '–'}`],
      ['Updated', `${time(entity.updatedTime)} by ${entity.updatedBy || '–'}`]].map(([t, v]) => [el('dt', t), el('dd', v)])),
    el('h2', 'Attributes ', el('span.hint', '(OV: the operational value)')), attributes(entity.attributes || {}),
    el('h2', 'Crosswalks'), table([
      {title: 'Source', cell: c => shortType(c.type)}, {title: 'Value', cell: c => c.value},
      {title: 'Table', cell: c => c.sourceTable || ''}, {title: 'Created', cell: c => time(c.createDate)},
      {title: 'Updated', cell: c => time(c.updateDate)},
    ], entity.crosswalks || []),
    el('h2', 'Merge history'), mergesBox,
    el('h2', 'Events'), eventsBox);

  const entityId = String(entity.uri).slice('entities/'.length);
  api(tenantPath('/entities/' + encodeURIComponent(entityId) + '/_merges')).then(answer => {
    const merges = answer.merges || [];
    fill(mergesBox, merges.length === 0 ? el('p.muted', 'No merges.') : table([
      {title: 'Time', cell: m => time(m.time)}, {title: 'Winner', cell: m => entityLink(m.winner)},
      {title: 'Loser', cell: m => entityLink(m.loser)},
      {title: 'How', cell: m => m.matchRules ? 'match rules: ' + [].concat(m.matchRules).join(', ') + scores(m.relevance) : 'manual (_sameAs)'},
      {title: 'By', cell: m => m.user || ''},
    ], merges));
  }).catch(error => fill(mergesBox, problem(error, 'Merge history')));

  const uris = new Set([entity.uri, entity.redirectedFrom].filter(Boolean));
  api(tenantPath('/events?' + new URLSearchParams({objectUri: entity.uri, limit: 10000}))).then(answer => {
    // A server without ?objectUri= answers the whole queue from its start: keep this entity's events here too.
    const events = (answer.events || []).filter(e => uris.has(e.objectUri) || (e.uris || []).includes(entity.uri));
    fill(eventsBox, events.length ? eventTable(events) : el('p.muted', 'No events of this entity in the queue.'));
  }).catch(error => fill(eventsBox, problem(error, 'Events')));
}

/** ", score 0.8462 (names +4, birth date +3)" per relevance group that merged the pair: what each comparison added. */
function scores(relevance) {
  return (Array.isArray(relevance) ? relevance : []).map(r => ', score ' + r.score + ' ('
    + (Array.isArray(r.comparisons) ? r.comparisons : []).filter(c => c.contribution !== 0)
      .map(c => c.comparison + ' ' + (c.contribution > 0 ? '+' : '') + c.contribution).join(', ') + ')').join('');
}

/** Attributes as a nested list: each value as text, its operational value marked OV. */
function attributes(map) {
  const names = Object.keys(map);
  if (names.length === 0) return el('p.muted', 'No attributes.');
  return el('dl.attributes', names.map(name => [el('dt', name), el('dd', el('ul', (map[name] || []).map(v => {
    const value = v && typeof v === 'object' && 'value' in v ? v.value : v;
    return el('li', {class: v && v.ov ? 'ov' : null},
      v && v.ov ? el('span.badge.ov', 'OV') : null, ' ',
      value && typeof value === 'object' ? attributes(value) : el('span.value', String(value)));
  })))]));
}

export async function changesPage(view) {
  let changes;
  try {
    changes = (await api(tenantPath('/streaming/changes?limit=200'))).changes || [];
  } catch (error) {
    fill(view, el('h1', 'Changes'), problem(error, 'The audit list of streaming changes'));
    return;
  }
  fill(view, el('h1', 'Changes'), el('p.muted', 'Who changed the streaming configuration, and what (newest first).'),
    el('div#changes', changes.length === 0 ? el('p.muted', 'No changes yet.') : table([
      {title: 'At', cell: c => time(c.at)}, {title: 'Who', cell: c => c.actor}, {title: 'Action', cell: c => c.action},
      {title: 'Kind', cell: c => c.kind}, {title: 'Target', cell: c => c.target},
      {title: 'Before / after', cell: c => el('details', el('summary', 'show'),
        el('div.diff', el('div', el('h3', 'before'), pre(c.before ?? null)), el('div', el('h3', 'after'), pre(c.after ?? null))))},
    ], changes)));
}
