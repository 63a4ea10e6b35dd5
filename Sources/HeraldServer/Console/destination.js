// A destination: its status, recent errors, pause/resume, seek, delete, and its configuration with an edit form;
// and the form that creates a new destination. The form reads and writes the destination in the shape of the
// configuration file (messaging.destinations[]); keys the form does not show are kept as they were.
import {api, APIError, confirmAction, el, EVENT_TYPES, fill, flash, num, page, pre, problem, seconds, session, table,
  tenantPath, time} from './core.js';

const destinationPath = id => tenantPath('/streaming/destinations/' + encodeURIComponent(id));

export async function destinationPage(view, id) {
  const statusBox = el('div#destination-status');
  const errorsBox = el('div#recent-errors');
  const configBox = el('div#destination-config');
  const actions = el('div.actions#destination-actions');
  fill(view, el('h1', 'Destination ', el('code', id)), actions, statusBox,
    el('section', el('h2', 'Recent errors'), errorsBox),
    el('section', el('h2', 'Configuration'), configBox));

  const refresh = async () => {
    let status;
    try {
      status = await api(tenantPath('/streaming/status'));
    } catch (error) {
      fill(statusBox, problem(error, 'Status'));
      return;
    }
    const d = (status.destinations || []).find(x => x.id === id);
    if (!d) {
      fill(statusBox, el('p.warning', 'This destination is not running on this server (removed, or not started yet).'));
      actions.replaceChildren();
      return;
    }
    fill(statusBox, el('dl.facts',
      fact('State', el('span.state.' + String(d.state).toLowerCase(), {'data-field': 'state'}, d.state)),
      fact('Health', d.healthy ? 'healthy' : 'unhealthy: ' + (d.reason || '')),
      fact('Plugin', `${d.plugin} ${d.pluginVersion || ''}`), fact('Ordering', d.ordering),
      fact('Cursor', num(d.cursor)), fact('Lag', `${num(d.lagEvents)} events, ${seconds(d.lagSeconds)}`),
      fact('Sent', el('span', {'data-field': 'sent'}, num(d.sent))), fact('Retried', num(d.retried)),
      fact('Dead-lettered', num(d.deadLettered)), fact('In the dead-letter queue', num(d.deadLetterCount)),
      fact('Retry backlog', num(d.retryBacklog)), fact('Filtered out', num(d.filtered)),
      // How the worker made its messages (docs/streaming.md, "Rendering from the stored bytes"); absent on older servers.
      d.renders ? fact('Rendered', el('span', {'data-field': 'renders'},
        `${num(d.renders.fromStoredBytes)} from the stored bytes, ${num(d.renders.afterDecoding)} after decoding`)) : null));
    fill(errorsBox, d.recentErrors === undefined ? el('p.unavailable', 'Recent errors: not available on this server.')
      : d.recentErrors.length === 0 ? el('p.muted', 'No recent errors.')
      : table([
        {title: 'At', cell: e => time(e.at)}, {title: 'Code', cell: e => e.code},
        {title: 'Message', cell: e => e.message}, {title: 'Event', cell: e => e.seq === undefined ? '' : num(e.seq)},
      ], d.recentErrors));
    renderActions(actions, id, d.state === 'PAUSED' || d.paused === true, refresh);
  };
  await refresh();
  page.every(2000, view, refresh);

  try {
    const [object, list] = await Promise.all([api(destinationPath(id)),
      api(tenantPath('/streaming/destinations')).catch(() => ({}))]);
    const managed = (list.managed || {})[id];
    const origin = managed ? el('p.muted#origin', managed.origin === 'api'
      ? `Changed through the API by ${managed.updatedBy || '?'} at ${time(managed.updatedAt)}; it is kept in the store, over the configuration file.`
      : 'As in the configuration file.') : null;
    if (session.can('admin')) {
      fill(configBox, origin, destinationForm(object, {editing: true}));
    } else {
      fill(configBox, origin, pre(object), el('p.muted', 'Editing needs an admin token.'));
    }
  } catch (error) {
    fill(configBox, problem(error, 'Configuration'));
  }
}

function fact(term, value) {
  return [el('dt', term), el('dd', value)];
}

function renderActions(box, id, paused, refresh) {
  const buttons = [];
  if (session.can('write')) {
    buttons.push(paused
      ? el('button#resume', {type: 'button', onclick: () => act(id, '_resume', 'Resumed').then(refresh)}, 'Resume')
      : el('button#pause', {type: 'button', onclick: () => act(id, '_pause', 'Paused').then(refresh)}, 'Pause'));
  }
  if (session.can('admin')) {
    const seq = el('input#seek-seq', {type: 'number', min: 0, placeholder: 'sequence number'});
    const at = el('input#seek-time', {type: 'text', placeholder: '2026-12-07T10:00:00Z'});
    buttons.push(el('form.inline#seek', {onsubmit: e => { e.preventDefault(); seek(id, seq.value, at.value).then(refresh); }},
      el('label', 'Seek to ', seq), el('label', ' or time ', at), ' ',
      el('button', {type: 'submit', disabled: !paused, title: paused ? null : 'pause the destination first'}, 'Seek')));
    buttons.push(el('button#delete.danger', {type: 'button', onclick: () => remove(id)}, 'Delete'));
  }
  const key = buttons.map(b => b.id).join() + paused;
  if (box.dataset.key === key) return;  // keep what the operator is typing
  box.dataset.key = key;
  fill(box, buttons);
}

async function act(id, action, done) {
  try {
    await api(destinationPath(id) + '/' + action, {method: 'POST'});
    flash(`${done}: ${id}`);
  } catch (error) {
    flash(`${action} failed: ${error.message}`, 'error');
  }
}

async function seek(id, seq, at) {
  const body = seq !== '' ? {seq: Number(seq)} : at ? {time: at} : null;
  if (!body) return flash('Give a sequence number or a time.', 'error');
  if (!confirmAction(`Move the cursor of ${id} to ${seq !== '' ? 'event ' + seq : at}? Events may be sent again or skipped.`)) return;
  try {
    await api(destinationPath(id) + '/_seek', {method: 'POST', body});
    flash(`Cursor moved: ${id}`);
  } catch (error) {
    flash(`Seek failed: ${error.message}`, 'error');
  }
}

async function remove(id) {
  if (!confirmAction(`Delete destination ${id}? Its cursor, retry schedule and dead letters stay in the store.`)) return;
  try {
    await api(destinationPath(id), {method: 'DELETE'});
    flash(`Deleted: ${id}`);
    location.hash = '#/overview';
  } catch (error) {
    flash(`Delete failed: ${error.message}`, 'error');
  }
}

export async function newDestinationPage(view) {
  if (!session.can('admin')) {
    fill(view, el('h1', 'New destination'), el('p.warning', 'Creating a destination needs an admin token.'));
    return;
  }
  fill(view, el('h1', 'New destination'), destinationForm({typeFilter: []}, {editing: false}));
}

// ---- the form --------------------------------------------------------------------------------------------

const BATCH = ['maxMessages', 'maxBytes', 'lingerMs', 'maxInFlight'];
const RETRY = ['initialDelayMs', 'multiplier', 'maxDelayMs', 'maxAttempts'];

/** One labelled field; `data-field` is the key path inside the destination, where the server's issues go. */
function field(path, label, input, hint) {
  return el('div.field', {'data-field': path}, el('label', label, ' ', input), hint ? el('span.hint', hint) : null,
    el('span.issue'));
}

function select(name, options, value) {
  return el('select', {name}, options.map(o => el('option', {value: o, selected: o === value}, o)));
}

function numberInput(name, value) {
  return el('input', {name, type: 'number', step: 'any', value: value === undefined ? '' : value, size: 8});
}

export function destinationForm(original, {editing}) {
  const d = structuredClone(original);
  const providers = el('span');
  const providerInput = el('input', {name: 'provider', value: d.provider || '', required: true, list: 'providers'});
  const types = new Set(d.typeFilter || []);
  const issues = el('ul.issues#form-issues');
  const form = el('form#destination-form', {onsubmit: e => { e.preventDefault(); save(); }},
    editing ? field('id', 'Id', el('code', d.id)) :
      field('id', 'Id', el('input', {name: 'id', value: d.id || '', placeholder: 'provider/name (default)'})),
    field('provider', 'Provider', providerInput, providers),
    field('name', 'Queue or topic name', el('input', {name: 'name', value: d.name || '', required: true})),
    field('enabled', 'Enabled', el('input', {name: 'enabled', type: 'checkbox', checked: d.enabled !== false})),
    el('fieldset.field', {'data-field': 'typeFilter'}, el('legend', 'Event types (none checked: all types)'),
      EVENT_TYPES.map(t => el('label.check', el('input', {type: 'checkbox', name: 'typeFilter', value: t, checked: types.has(t)}), t)),
      el('span.issue')),
    field('objectFilter', 'Object filter', el('textarea', {name: 'objectFilter', rows: 3, cols: 70, spellcheck: 'false'},
      d.objectFilter || ''), 'try it in the filter playground first'),
    field('payloadType', 'Payload', select('payloadType', ['SNAPSHOT', 'DELTAS', 'SNAPSHOT_WITH_DELTA'], d.payloadType || 'SNAPSHOT')),
    field('payloadFields', 'Payload fields', el('input', {name: 'payloadFields', size: 60,
      value: (d.payloadFields || []).join(', '), placeholder: 'uri, type, attributes.FirstName, crosswalks'}), 'comma-separated; empty: all'),
    field('ovOnly', 'Operational values only', el('input', {name: 'ovOnly', type: 'checkbox', checked: !!d.ovOnly})),
    field('format', 'Format', select('format', ['JSON', 'JSON_ZIP_BASE64'], d.format || 'JSON')),
    field('ordering', 'Ordering', select('ordering', ['none', 'perEntity'], d.ordering || 'none')),
    el('fieldset', el('legend', 'Batch (empty: default)'),
      BATCH.map(k => field('batch.' + k, k, numberInput('batch.' + k, (d.batch || {})[k])))),
    el('fieldset', el('legend', 'Retry (empty: default)'),
      RETRY.map(k => field('retry.' + k, k, numberInput('retry.' + k, (d.retry || {})[k])))),
    issues,
    el('button#save', {type: 'submit'}, editing ? 'Save' : 'Create'));

  api(tenantPath('/streaming/providers')).then(answer => {
    const list = answer.providers || [];
    providers.replaceWith(el('datalist#providers', list.map(p => el('option', {value: p.alias}, p.plugin))));
    if (!providerInput.value && list.length) providerInput.value = list[0].alias;
  }).catch(() => {});

  function read() {
    const data = new FormData(form);
    const out = d;
    const text = name => String(data.get(name) || '').trim();
    if (!editing) { if (text('id')) out.id = text('id'); else delete out.id; }
    out.provider = text('provider');
    out.name = text('name');
    if (form.elements.enabled.checked) delete out.enabled; else out.enabled = false;
    out.typeFilter = data.getAll('typeFilter');
    for (const key of ['objectFilter']) { if (text(key)) out[key] = text(key); else delete out[key]; }
    out.payloadType = text('payloadType');
    const fields = text('payloadFields').split(',').map(s => s.trim()).filter(Boolean);
    if (fields.length) out.payloadFields = fields; else delete out.payloadFields;
    if (form.elements.ovOnly.checked) out.ovOnly = true; else delete out.ovOnly;
    out.format = text('format');
    out.ordering = text('ordering');
    for (const [group, keys] of [['batch', BATCH], ['retry', RETRY]]) {
      const values = {...(out[group] || {})};
      for (const k of keys) {
        const v = text(group + '.' + k);
        if (v === '') delete values[k]; else values[k] = Number(v);
      }
      if (Object.keys(values).length) out[group] = values; else delete out[group];
    }
    return out;
  }

  async function save() {
    form.querySelectorAll('.issue').forEach(n => n.replaceChildren());
    issues.replaceChildren();
    const body = read();
    try {
      const saved = editing
        ? await api(destinationPath(d.id), {method: 'PUT', body})
        : await api(tenantPath('/streaming/destinations'), {method: 'POST', body});
      const id = (saved && saved.id) || d.id || `${body.provider}/${body.name}`;
      flash(editing ? `Saved: ${id}` : `Created: ${id}`);
      if (!editing) location.hash = '#/destination/' + encodeURIComponent(id);
    } catch (error) {
      showIssues(form, issues, error);
    }
  }
  return form;
}

/** The server's issues next to their fields (by `field`, the path inside the request body), the rest below. */
function showIssues(form, list, error) {
  if (!(error instanceof APIError)) { fill(list, el('li', String(error))); return; }
  if (error.missing) { fill(list, el('li', 'Managing destinations is not available on this server.')); return; }
  const found = error.body.issues || [];
  if (found.length === 0) fill(list, el('li', `${error.code || error.status}: ${error.message}`));
  for (const issue of found) {
    const path = String(issue.field || '').replace(/\[\d+\]/g, '');
    let target = null;
    for (let p = path; p && !target; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
      target = [...form.querySelectorAll('[data-field]')].find(n => n.dataset.field === p);
    }
    const line = el('span', issue.field ? el('code', issue.field) : null, ' ', issue.message);
    if (target) target.querySelector('.issue').append(line);
    else list.append(el('li', line, issue.path ? el('span.hint', ' ', issue.path) : null));
  }
}
