// Overview: the tenants, each destination's state, health, lag and counts, and the throughput of the last
// 15 minutes as a small SVG chart of our own. Both refresh by themselves.
import {api, el, fill, link, num, page, problem, rerender, seconds, session, svg, table, tenantPath} from './core.js';

export async function overviewPage(view) {
  const statusBox = el('div#status');
  const chartBox = el('div#throughput');
  fill(view,
    el('h1', 'Overview'),
    el('section', el('h2', 'Tenants'), el('ul#tenants', session.who.tenants.map(t =>
      el('li', t === session.tenant ? el('strong', t) : el('a', {href: '#/overview', onclick: e => { e.preventDefault(); session.tenant = t; rerender(); }}, t))))),
    el('section', el('h2', 'Destinations ', session.can('admin') ? link('+ New destination', 'new-destination') : null),
      statusBox),
    el('section', el('h2', 'Throughput, last 15 minutes'), chartBox));
  await Promise.all([refreshStatus(statusBox), refreshChart(chartBox)]);
  page.every(2000, view, () => refreshStatus(statusBox));
  page.every(10000, view, () => refreshChart(chartBox));
}

async function refreshStatus(box) {
  let status;
  try {
    status = await api(tenantPath('/streaming/status'));
  } catch (error) {
    fill(box, problem(error, 'Streaming status'));
    return;
  }
  const rows = status.destinations || [];
  fill(box,
    status.streamingEnabled === false ? el('p.warning', 'Streaming is disabled for this tenant (streamingEnabled: false).') : null,
    rows.length === 0 ? el('p.muted', 'This tenant has no destinations.') :
      table([
        {title: 'Destination', cell: d => link(d.id, 'destination', d.id)},
        {title: 'Plugin', cell: d => d.plugin},
        {title: 'State', cell: d => el('span.state.' + String(d.state).toLowerCase(), d.state), attrs: () => ({'data-field': 'state'})},
        {title: 'Health', cell: d => d.healthy ? el('span.ok', 'healthy') : el('span.bad', 'unhealthy'), attrs: () => ({'data-field': 'health'})},
        {title: 'Reason', cell: d => d.reason || ''},
        {title: 'Lag (events)', cell: d => num(d.lagEvents), attrs: () => ({'data-field': 'lagEvents', class: 'n'})},
        {title: 'Lag (s)', cell: d => seconds(d.lagSeconds), attrs: () => ({'data-field': 'lagSeconds', class: 'n'})},
        {title: 'Sent', cell: d => num(d.sent), attrs: () => ({'data-field': 'sent', class: 'n'})},
        {title: 'Retried', cell: d => num(d.retried), attrs: () => ({'data-field': 'retried', class: 'n'})},
        {title: 'Dead-lettered', cell: d => num(d.deadLettered), attrs: () => ({'data-field': 'deadLettered', class: 'n'})},
      ], rows, d => ({'data-destination': d.id})));
}

async function refreshChart(box) {
  let data;
  try {
    data = await api(tenantPath('/streaming/throughput?minutes=15'));
  } catch (error) {
    fill(box, problem(error, 'Throughput'));
    return;
  }
  fill(box, chart(data));
}

const W = 1000, H = 240, PAD = {left: 48, right: 12, top: 10, bottom: 24};

/** Sent per interval for each destination (a line each), retried and dead-lettered summed (dashed). */
export function chart(data) {
  const interval = (data.intervalSeconds || 10) * 1000;
  const end = data.now || Date.now();
  const start = end - 15 * 60 * 1000;
  const series = (data.destinations || []).map((d, i) => ({
    label: d.id + ' sent', cls: 'line s' + (i % 6), points: (d.points || []).map(p => [p.t, p.sent || 0]),
  }));
  const sums = {retried: new Map(), deadLettered: new Map()};
  for (const d of data.destinations || []) {
    for (const p of d.points || []) {
      sums.retried.set(p.t, (sums.retried.get(p.t) || 0) + (p.retried || 0) + (p.throttled || 0));
      sums.deadLettered.set(p.t, (sums.deadLettered.get(p.t) || 0) + (p.deadLettered || 0));
    }
  }
  series.push({label: 'retried or throttled (all)', cls: 'line retried', points: [...sums.retried].sort((a, b) => a[0] - b[0])});
  series.push({label: 'dead-lettered (all)', cls: 'line dead', points: [...sums.deadLettered].sort((a, b) => a[0] - b[0])});
  const max = Math.max(1, ...series.flatMap(s => s.points.map(p => p[1])));
  const x = t => PAD.left + (W - PAD.left - PAD.right) * (t - start) / (end - start);
  const y = v => H - PAD.bottom - (H - PAD.top - PAD.bottom) * v / max;
  const axes = [
    svg('line', {class: 'axis', x1: PAD.left, y1: y(0), x2: W - PAD.right, y2: y(0)}),
    svg('line', {class: 'axis', x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: y(0)}),
    svg('text', {class: 'max', x: PAD.left - 4, y: y(max) + 4, 'text-anchor': 'end'}, num(max)),
    svg('text', {x: PAD.left - 4, y: y(0), 'text-anchor': 'end'}, '0'),
    svg('line', {class: 'grid', x1: PAD.left, y1: y(max / 2), x2: W - PAD.right, y2: y(max / 2)}),
  ];
  for (let m = 15; m >= 0; m -= 5) {
    const anchor = m === 15 ? 'start' : m ? 'middle' : 'end';
    axes.push(svg('text', {x: x(end - m * 60000), y: H - 6, 'text-anchor': anchor}, m ? `-${m} min` : 'now'));
  }
  const lines = series.filter(s => s.points.length).map(s => svg('polyline', {
    class: s.cls, points: s.points.filter(p => p[0] >= start).map(p => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' '),
  }, svg('title', {}, s.label)));
  return el('figure.chart',
    svg('svg', {viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `messages per ${interval / 1000} s`}, axes, lines),
    el('figcaption', `Messages per ${interval / 1000} s, as this node delivered them. `, series.map(s => el('span.key', el('i.' + s.cls.split(' ').join('.')), s.label))));
}
