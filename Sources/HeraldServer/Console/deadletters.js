// Dead letters: the list (by destination and status), one letter with its headers and body (pretty-printed;
// a JSON_ZIP_BASE64 body decoded here, base64 then gzip), replay and purge of a selection after confirmation.
import {api, confirmAction, el, fill, flash, link, num, pre, problem, session, table, tenantPath,
  time} from './core.js';

const STATUSES = ['', 'PERMANENT', 'TOO_LARGE', 'RETRIES_EXHAUSTED'];

export async function deadLettersPage(view) {
  const params = new URLSearchParams(sessionStorage.getItem('herald.dlq') || '');
  let destinations = [];
  try {
    destinations = ((await api(tenantPath('/streaming/status'))).destinations || []).map(d => d.id);
  } catch { /* the filter then lists what the letters name */ }
  const destination = el('select#dlq-destination', {onchange: apply},
    el('option', {value: ''}, 'all destinations'),
    destinations.map(id => el('option', {value: id, selected: id === params.get('destination')}, id)));
  const status = el('select#dlq-status', {onchange: apply},
    STATUSES.map(s => el('option', {value: s, selected: s === (params.get('status') || '')}, s || 'any status')));
  const listBox = el('div#dlq-list');
  fill(view, el('h1', 'Dead letters'),
    el('p', el('label', 'Destination ', destination), ' ', el('label', 'Status ', status)), listBox);

  function apply() {
    sessionStorage.setItem('herald.dlq', new URLSearchParams({destination: destination.value, status: status.value}));
    load();
  }

  // A load started earlier (another filter) may answer after a later one: only the latest fills the list.
  let latest = 0;
  async function load() {
    const mine = ++latest;
    const query = destination.value ? '?limit=1000&destination=' + encodeURIComponent(destination.value) : '?limit=1000';
    let letters;
    try {
      letters = (await api(tenantPath('/streaming/dlq' + query))).deadLetters || [];
    } catch (error) {
      if (mine === latest) fill(listBox, problem(error, 'Dead letters'));
      return;
    }
    if (mine !== latest) return;
    const capped = letters.length === 1000;
    if (status.value) letters = letters.filter(l => l.status === status.value);
    if (letters.length === 0) { fill(listBox, el('p.muted#dlq-empty', 'No dead letters.')); return; }
    const admin = session.can('admin');
    const boxes = new Map();
    const all = el('input#dlq-all', {type: 'checkbox', onchange: () => boxes.forEach(b => { b.checked = all.checked; })});
    const selected = () => [...boxes].filter(([, b]) => b.checked).map(([id]) => id);
    const act = async (action, verb) => {
      const ids = selected();
      if (ids.length === 0) return flash('Select dead letters first.', 'error');
      if (!confirmAction(`${verb} ${ids.length} dead letter${ids.length > 1 ? 's' : ''}?` +
        (action === '_purge' ? ' They are deleted for good.' : ' They go back to their destination, due now.'))) return;
      try {
        const answer = await api(tenantPath(`/streaming/dlq/${action}?ids=${ids.join(',')}`), {method: 'POST'});
        flash(`${verb}: ${answer.replayed ?? answer.purged ?? ids.length}`);
      } catch (error) {
        flash(`${verb} failed: ${error.message}`, 'error');
      }
      load();
    };
    fill(listBox,
      capped ? el('p.warning', 'The first 1,000 dead letters; replay or purge some to see the rest.') : null,
      admin ? el('div.actions', el('button#dlq-replay', {type: 'button', onclick: () => act('_replay', 'Replay')}, 'Replay selected'),
        ' ', el('button#dlq-purge.danger', {type: 'button', onclick: () => act('_purge', 'Purge')}, 'Purge selected')) : null,
      table([
        ...(admin ? [{title: all, cell: l => { const b = el('input', {type: 'checkbox', class: 'pick', value: l.id}); boxes.set(l.id, b); return b; }}] : []),
        {title: 'Id', cell: l => link(String(l.id), 'dead-letter', l.id)},
        {title: 'Destination', cell: l => l.destination}, {title: 'Event', cell: l => `${l.eventType} #${l.seq}`},
        {title: 'Entity', cell: l => l.objectUri}, {title: 'Status', cell: l => l.status},
        {title: 'Reason', cell: l => l.reason}, {title: 'Attempts', cell: l => num(l.attempts)},
        {title: 'Last attempt', cell: l => time(l.lastAttempt)}, {title: 'Bytes', cell: l => num(l.bodyBytes)},
      ], letters, l => ({'data-id': l.id})));
  }
  await load();
}

export async function deadLetterPage(view, id) {
  let letter;
  try {
    letter = await api(tenantPath('/streaming/dlq/' + encodeURIComponent(id)));
  } catch (error) {
    fill(view, el('h1', 'Dead letter ', id), problem(error, 'Dead letter'));
    return;
  }
  const bodyBox = el('div#dlq-body', pre(letter.body));
  const admin = session.can('admin');
  const act = async (action, verb) => {
    if (!confirmAction(`${verb} dead letter ${letter.id}?`)) return;
    try {
      await api(tenantPath(`/streaming/dlq/${action}?ids=${letter.id}`), {method: 'POST'});
      flash(`${verb}: dead letter ${letter.id}`);
      location.hash = '#/dlq';
    } catch (error) {
      flash(`${verb} failed: ${error.message}`, 'error');
    }
  };
  fill(view, el('h1', 'Dead letter ', String(letter.id)),
    admin ? el('div.actions', el('button#replay-one', {type: 'button', onclick: () => act('_replay', 'Replay')}, 'Replay'), ' ',
      el('button#purge-one.danger', {type: 'button', onclick: () => act('_purge', 'Purge')}, 'Purge')) : null,
    el('dl.facts', [['Destination', letter.destination], ['Event', `${letter.eventType} #${letter.seq}`],
      ['Entity', letter.objectUri.startsWith('entities/') ? link(letter.objectUri, 'entity', letter.objectUri.slice(9)) : letter.objectUri],
      ['Status', letter.status], ['Reason', letter.reason], ['Attempts', num(letter.attempts)],
      ['First attempt', time(letter.firstAttempt)], ['Last attempt', time(letter.lastAttempt)],
      ['Plugin', `${letter.plugin} ${letter.pluginVersion}`], ['Message id', letter.messageId]]
      .map(([t, v]) => [el('dt', t), el('dd', v)])),
    el('h2', 'Headers'), table([{title: 'Name', cell: h => h[0]}, {title: 'Value', cell: h => h[1]}], Object.entries(letter.headers || {})),
    el('h2', 'Body ', el('span.hint', `${num(letter.bodyBytes)} bytes`)), bodyBox);
  fill(bodyBox, await renderBody(letter.body));
}

/** The body pretty-printed when it is JSON; decoded first when it is base64 of gzip (JSON_ZIP_BASE64). */
export async function renderBody(body) {
  const json = parse(body);
  if (json !== undefined) return pre(json);
  const text = body.trim();
  if (/^[A-Za-z0-9+/=\s]+$/.test(text) && text.startsWith('H4sI')) {
    try {
      const bytes = Uint8Array.from(atob(text.replace(/\s+/g, '')), c => c.charCodeAt(0));
      const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
      const decoded = await new Response(stream).text();
      const inner = parse(decoded);
      return [el('p.muted#decoded-note', 'JSON_ZIP_BASE64: decoded in the browser (base64, then gzip).'),
        pre(inner === undefined ? decoded : inner), el('details', el('summary', 'as sent'), pre(body))];
    } catch (error) {
      return [el('p.warning', 'The body looks like JSON_ZIP_BASE64 but did not decode: ' + error.message), pre(body)];
    }
  }
  return pre(body);
}

function parse(text) {
  try { return JSON.parse(text); } catch { return undefined; }
}
