// Filter playground: the filter is validated as it is typed (the caret marks the error's position), then tested
// against the tenant's last N events, each with the per-node explanation of the filter.
import {api, debounce, el, EVENT_TYPES, fill, link, problem, session, table, tenantPath} from './core.js';

/** A stand-in event for validation only: the server checks the filter before it reads the event. */
const PROBE = {type: 'ENTITY_CHANGED', object: {uri: 'entities/playground', type: 'configuration/entityTypes/Playground', attributes: {}}};

export async function playgroundPage(view) {
  const saved = JSON.parse(sessionStorage.getItem('herald.playground') || '{}');
  const filter = el('textarea#filter', {rows: 4, cols: 90, spellcheck: 'false', autocomplete: 'off',
    placeholder: "equals(type, 'Individual') and exists(attributes.Email)"}, saved.filter || '');
  const types = EVENT_TYPES.map(t => el('input', {type: 'checkbox', value: t, checked: (saved.types || []).includes(t)}));
  const ovOnly = el('input#ov-only', {type: 'checkbox', checked: !!saved.ovOnly});
  const last = el('input#last', {type: 'number', min: 1, max: 500, value: saved.last || 20, size: 5});
  const verdict = el('div#verdict', {'aria-live': 'polite'});
  const results = el('div#results');
  fill(view, el('h1', 'Filter playground'),
    el('p', 'Type an object filter (the language of a destination\'s ', el('code', 'objectFilter'),
      '). It is checked as you type; then test it against the last events of tenant ', el('strong', session.tenant), '.'),
    filter, verdict,
    el('details', el('summary', 'Type filter and options'),
      el('div.types', types.map(b => el('label.check', b, b.value))), el('label', ovOnly, ' operational values only')),
    el('p', el('label', 'Test against the last ', last, ' events'), ' ',
      el('button#run-test', {type: 'button', onclick: run}, 'Test')),
    results);

  const body = () => {
    const typeFilter = types.filter(b => b.checked).map(b => b.value);
    sessionStorage.setItem('herald.playground', JSON.stringify({filter: filter.value, types: typeFilter, ovOnly: ovOnly.checked, last: last.value}));
    return {objectFilter: filter.value, ...(typeFilter.length ? {typeFilter} : {}), ...(ovOnly.checked ? {ovOnly: true} : {})};
  };

  let asked = 0;
  const validate = debounce(300, async () => {
    const mine = ++asked;
    let answer;
    try {
      answer = await api(tenantPath('/objectFilter/validate'), {method: 'POST', body: {...body(), event: PROBE}});
    } catch (error) {
      // INVALID_EVENT: the filter parsed (it is checked first); the stand-in event is what the server refused.
      answer = error.code === 'INVALID_EVENT' ? {valid: true} : null;
      if (!answer) { if (mine === asked) fill(verdict, problem(error, 'Validation')); return; }
    }
    if (mine !== asked) return;  // a newer keystroke answered after this one
    showVerdict(verdict, filter.value, answer);
  });
  // A click on the error puts the text cursor at its position in the filter.
  verdict.addEventListener('click', () => {
    const box = verdict.querySelector('[data-position]');
    if (!box) return;
    const at = Array.from(filter.value).slice(0, Number(box.dataset.position)).join('').length;
    filter.focus();
    filter.setSelectionRange(at, at);
  });
  filter.addEventListener('input', validate);
  types.forEach(b => b.addEventListener('change', validate));
  validate();

  async function run() {
    fill(results, el('p.muted', 'Testing…'));
    let answer;
    try {
      answer = await api(tenantPath('/objectFilter/_test'), {method: 'POST', body: {...body(), last: Math.max(1, Math.min(500, Number(last.value) || 20))}});
    } catch (error) {
      fill(results, problem(error, 'Testing against recent events'));
      return;
    }
    if (!answer.valid) { showVerdict(verdict, filter.value, answer); results.replaceChildren(); return; }
    fill(results, el('p#test-summary', `${answer.passed} of ${answer.tested} events pass.`),
      table([
        {title: 'Event', cell: e => '#' + e.seq}, {title: 'Type', cell: e => e.type},
        {title: 'Entity', cell: e => String(e.objectUri).startsWith('entities/') ? link(e.objectUri, 'entity', e.objectUri.slice(9)) : e.objectUri},
        {title: 'Passes', cell: e => e.passes ? el('span.ok', 'passes') : el('span.bad', 'filtered out')},
        {title: 'Type filter', cell: e => String(e.typeFilterPasses)},
        {title: 'Explanation', cell: e => e.explanation ? el('details', el('summary', String(e.objectFilterPasses)), tree(e.explanation)) : String(e.objectFilterPasses)},
      ], answer.events || [], e => ({'data-seq': e.seq, class: e.passes ? 'pass' : 'fail'})));
  }
}

/** "valid", or the message with the filter's line and a caret under the error's position (in characters). */
function showVerdict(box, text, answer) {
  if (answer.valid) { fill(box, el('p.ok#filter-valid', text.trim() ? 'Valid filter.' : 'Empty filter: everything passes.')); return; }
  const error = answer.error || {};
  const chars = Array.from(text);
  const position = Math.max(0, Math.min(error.position ?? chars.length, chars.length));
  const before = chars.slice(0, position).join('');
  const lineStart = before.lastIndexOf('\n') + 1;
  const lineEnd = text.indexOf('\n', before.length);
  const line = text.slice(lineStart, lineEnd < 0 ? text.length : lineEnd);
  const column = Array.from(before.slice(lineStart)).length;
  fill(box, el('div.filter-error#filter-error', {'data-position': position},
    el('p.error', error.message || 'invalid filter'),
    error.expected ? el('p.hint', 'expected: ', error.expected) : null,
    el('pre.caret', {title: 'click to put the cursor there'}, line + '\n', el('span.caret', ' '.repeat(column) + '^'))));
}

/** The explanation tree: each sub-expression with its result. */
function tree(node) {
  return el('ul.tree', el('li', el('span.' + (node.result ? 'ok' : 'bad'), String(node.result)), ' ', el('code', node.expression),
    (node.children || []).length ? (node.children || []).map(tree) : null));
}
