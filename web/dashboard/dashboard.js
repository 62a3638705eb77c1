// dashboard.js — the QoE dashboard: reads GET /v1/admin/qoe once per
// dimension and draws time series per CDN and per edge (SVG, no library)
// and a breakdown table per dimension. No build step; served as it is.
//
// window.qoeDashboard holds the page's state (phase: idle, loading, ready,
// error) for the browser test, which reads what is drawn from the DOM.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const fragment = new URLSearchParams(location.hash.slice(1));
  // The API is this page's origin unless ?api= names another.
  const api = (params.get('api') || location.origin).replace(/\/+$/, '');
  // The pasted token is kept for this API only: a link to this page with
  // another ?api= must not send it there.
  const tokenKey = 'playplane.adminToken ' + api;
  const DIMS = [
    ['cdn', 'CDN (pathway)'], ['edge', 'Edge'], ['title', 'Title'],
    ['country', 'Viewer country'], ['asn', 'Viewer ASN'], ['device_type', 'Device type'],
  ];
  // loads counts the loads that finished, those a later one superseded too.
  const state = (window.qoeDashboard = { phase: 'idle', error: '', responses: {}, loads: 0 });
  let asked = 0; // the last load asked for: only its answers are drawn
  const HOUR = 3600e3;

  const pct = (n, d) => (d > 0 ? (100 * n) / d : null);
  const q = (quant, which) => (quant && quant.n > 0 ? quant[which] : null);
  // What the chart can draw, per aggregate; null where there is no value.
  const METRICS = {
    views: (a) => a.views,
    startup_p95: (a) => q(a.startup_ms, 'p95'),
    startup_p50: (a) => q(a.startup_ms, 'p50'),
    rebuffer_p95: (a) => q(a.rebuffer_percent, 'p95'),
    failure_pct: (a) => pct(a.failures, a.views),
    ebvs_pct: (a) => pct(a.exits_before_start, a.views),
    bitrate_p50: (a) => q(a.avg_bitrate_kbps, 'p50'),
  };
  // The breakdown table's columns: key, heading, value, decimals.
  const COLUMNS = [
    ['views', 'views', (a) => a.views, 0],
    ['started', 'started', (a) => a.started, 0],
    ['ebvs_pct', 'exits before start %', (a) => pct(a.exits_before_start, a.views), 1],
    ['failure_pct', 'failures %', (a) => pct(a.failures, a.views), 1],
    ['startup_p50', 'startup p50 ms', (a) => q(a.startup_ms, 'p50'), 0],
    ['startup_p95', 'startup p95 ms', (a) => q(a.startup_ms, 'p95'), 0],
    ['rebuffer_p50', 'rebuffer % p50', (a) => q(a.rebuffer_percent, 'p50'), 2],
    ['rebuffer_p95', 'rebuffer % p95', (a) => q(a.rebuffer_percent, 'p95'), 2],
    ['bitrate_p50', 'avg bitrate p50 kbps', (a) => q(a.avg_bitrate_kbps, 'p50'), 0],
    ['bitrate_p95', 'avg bitrate p95 kbps', (a) => q(a.avg_bitrate_kbps, 'p95'), 0],
    ['peak_p95', 'peak bitrate p95 kbps', (a) => q(a.peak_bitrate_kbps, 'p95'), 0],
  ];
  // A chart draws at most one line per colour: past that, lines could not
  // be told apart.
  const PALETTE = ['#0969da', '#cf222e', '#1a7f37', '#9a6700', '#8250df', '#bf3989', '#0a7ea4', '#57606a'];
  // The metrics that count views: an hour the API lists nothing for holds
  // none of them, a zero to draw, where the others have no figure.
  const COUNTS = new Set(['views']);

  function setStatus(text, isError) {
    $('status').textContent = text;
    $('status').className = isError ? 'error' : '';
  }

  async function fetchQoE(token, dim, from, to) {
    const u = api + '/v1/admin/qoe?' + new URLSearchParams({ dimension: dim, from: from.toISOString(), to: to.toISOString() });
    const resp = await fetch(u, { headers: { Authorization: 'Bearer ' + token } });
    const body = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      const e = body.error || {};
      const err = new Error(resp.status + ' ' + (e.reason || e.code || '') + ': ' + (e.message || 'request failed'));
      err.status = resp.status;
      throw err;
    }
    return body;
  }

  function el(tag, attrs, children) {
    const ns = ['svg', 'polyline', 'circle', 'line', 'text', 'g', 'title'].includes(tag) ? 'http://www.w3.org/2000/svg' : null;
    const n = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
    for (const c of [].concat(children || [])) n.append(c);
    return n;
  }

  // The API's hours are UTC hours, and so are the charts': an operator
  // elsewhere must not read them as local time, nor a week's hours without
  // their day.
  const clock = (d) => d.toISOString().slice(11, 16);
  const day = (d) => d.toLocaleDateString('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' });

  function fmt(v, decimals) {
    return v === null || v === undefined ? '–' : Number(v).toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  }

  // scale is the y axis for values up to max: steps of 1, 2 or 5 × 10^k,
  // at most four of them, whole ones where whole says the values count
  // something.
  function scale(max, whole) {
    const raw = Math.max(max, 1) / 4;
    const mag = 10 ** Math.floor(Math.log10(raw));
    let step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
    if (whole) step = Math.max(1, Math.round(step));
    const decimals = step >= 1 ? 0 : Math.ceil(-Math.log10(step) - 1e-9);
    return { step, top: step * Math.ceil(Math.max(max, 1) / step), decimals };
  }

  // chart draws one line per value of the dimension over the hours, for
  // the values with the most views over the range.
  function chart(box, resp, metric) {
    box.replaceChildren();
    const get = METRICS[metric];
    const from = Date.parse(resp.from), to = Date.parse(resp.to);
    const hours = Math.max(1, Math.round((to - from) / HOUR));
    const ranked = [...resp.totals].sort((a, b) => b.views - a.views || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
    const shown = new Set(ranked.slice(0, PALETTE.length).map((a) => a.value));
    const series = new Map();
    for (const a of resp.aggregates) {
      const v = get(a);
      if (v === null || !shown.has(a.value)) continue;
      if (!series.has(a.value)) series.set(a.value, []);
      series.get(a.value).push([Math.round((Date.parse(a.hour) - from) / HOUR), v]);
    }
    // listed marks the hours the API has an aggregate for: only those get
    // a point to hover; a count's zeros between them are line only.
    const listed = new Map([...series].map(([value, pts]) => [value, new Set(pts.map((p) => p[0]))]));
    if (COUNTS.has(metric)) {
      for (const [value, pts] of series) {
        for (let h = 0; h < hours; h++) if (!listed.get(value).has(h)) pts.push([h, 0]);
      }
    }
    const W = 640, H = 248, L = 56, R = 12, T = 10, B = 56;
    const ys = scale(Math.max(0, ...[...series.values()].flat().map((p) => p[1])), COUNTS.has(metric));
    const x = (h) => L + ((h + 0.5) / hours) * (W - L - R);
    const y = (v) => T + (1 - v / ys.top) * (H - T - B);
    const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, 'data-metric': metric, role: 'img' });
    for (let i = 0; i * ys.step <= ys.top; i++) {
      const v = i * ys.step;
      svg.append(el('line', { class: 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      svg.append(el('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', 'data-tick': v }, fmt(v, ys.decimals)));
    }
    svg.append(el('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
    const step = Math.max(1, Math.ceil(hours / 8));
    svg.append(el('text', { x: W - R, y: H - 4, 'text-anchor': 'end' }, 'hour the views started (UTC)'));
    for (let h = 0, last = ''; h < hours; h += step) {
      const d = new Date(from + h * HOUR);
      svg.append(el('text', { x: x(h), y: H - B + 16, 'text-anchor': 'middle' }, clock(d)));
      // The day under its first tick and under each tick of a new day.
      if (day(d) !== last) svg.append(el('text', { x: x(h), y: H - B + 30, 'text-anchor': 'middle' }, day(d)));
      last = day(d);
    }
    const legend = el('div', { class: 'legend' });
    [...series.keys()].sort().forEach((value, i) => {
      const color = PALETTE[i % PALETTE.length];
      const pts = series.get(value).sort((a, b) => a[0] - b[0]);
      const g = el('g', { 'data-series': value, 'data-points': JSON.stringify(pts.map((p) => [new Date(from + p[0] * HOUR).toISOString(), p[1]])) });
      // A line per run of consecutive hours: an hour the API has no
      // figure for has nothing to draw, and a line across it would show one.
      const runs = [];
      for (const p of pts) {
        const last = runs[runs.length - 1];
        if (last && p[0] === last[last.length - 1][0] + 1) last.push(p);
        else runs.push([p]);
      }
      for (const r of runs) {
        g.append(el('polyline', { fill: 'none', stroke: color, 'stroke-width': 2, points: r.map((p) => `${x(p[0])},${y(p[1])}`).join(' ') }));
      }
      for (const p of pts.filter((p) => listed.get(value).has(p[0]))) {
        const d = new Date(from + p[0] * HOUR);
        g.append(el('circle', { cx: x(p[0]), cy: y(p[1]), r: 4, fill: color },
          el('title', {}, `${value || '(unknown)'}: ${fmt(p[1], COUNTS.has(metric) ? 0 : 1)} in the hour from ${day(d)} ${clock(d)} UTC`)));
      }
      svg.append(g);
      legend.append(el('span', {}, [el('i', { style: 'background:' + color }), value || '(unknown)']));
    });
    box.append(svg, legend);
    if (shown.size < ranked.length) {
      box.append(el('p', { class: 'more' }, `the ${shown.size} with the most views of ${ranked.length}; the table below lists all`));
    }
    if (series.size === 0) {
      // Views none of which has the metric (all failed before their first
      // frame: no startup time) are an outage, not an idle range.
      const name = [...$('metric').options].find((o) => o.value === metric).textContent;
      box.append(el('p', { class: 'empty' }, resp.views === 0 ? 'no views in this range'
        : `no ${name} figure: none of the ${resp.views} views in this range has one`));
    }
  }

  // table is the breakdown of the whole range by one dimension.
  function table(dim, label, resp) {
    const sec = el('section', {}, el('h2', {}, `${label} — ${resp.views} views`));
    if (resp.totals.length === 0) {
      sec.append(el('p', { class: 'empty' }, 'no views in this range'));
      return sec;
    }
    const head = el('tr', {}, [el('th', {}, label)].concat(COLUMNS.map((c) => el('th', {}, c[1]))));
    const rows = resp.totals.map((a) => {
      const first = el('td', { 'data-col': 'value', class: a.value ? '' : 'unknown' }, a.value || '(unknown)');
      return el('tr', { 'data-value': a.value }, [first].concat(COLUMNS.map(([key, , get, dec]) => {
        const v = get(a);
        return el('td', { 'data-col': key, 'data-raw': v === null ? '' : String(v) }, fmt(v, dec));
      })));
    });
    sec.append(el('table', { 'data-dim': dim }, [el('thead', {}, head), el('tbody', {}, rows)]));
    return sec;
  }

  function draw() {
    const metric = $('metric').value;
    if (state.responses.cdn) chart($('chart-cdn'), state.responses.cdn, metric);
    if (state.responses.edge) chart($('chart-edge'), state.responses.edge, metric);
  }

  async function load(ev) {
    if (ev) ev.preventDefault();
    const token = $('token').value.trim();
    if (!token) {
      setStatus('paste an admin token (playplane token --admin NAME)', true);
      return;
    }
    sessionStorage.setItem(tokenKey, token);
    const mine = ++asked;
    state.phase = 'loading';
    setStatus('loading…');
    const to = new Date(Math.ceil(Date.now() / HOUR) * HOUR);
    const from = new Date(to.getTime() - Number($('hours').value) * HOUR);
    try {
      const results = await Promise.all(DIMS.map(([d]) => fetchQoE(token, d, from, to)));
      // A range asked for after this one is what the controls say now.
      if (mine !== asked) return;
      DIMS.forEach(([d], i) => { state.responses[d] = results[i]; });
      $('tables').replaceChildren(...DIMS.map(([d, label]) => table(d, label, state.responses[d])));
      draw();
      state.phase = 'ready';
      setStatus(`${state.responses.cdn.views} views, ${from.toISOString().slice(0, 16)}Z – ${to.toISOString().slice(0, 16)}Z`);
    } catch (e) {
      if (mine !== asked) return;
      // What the last load drew is not this range's answer: shown beside
      // the error, it would pass for one.
      state.responses = {};
      for (const id of ['tables', 'chart-cdn', 'chart-edge']) $(id).replaceChildren();
      let msg = e.message;
      if (e.status === 401) {
        // Expired or not ours: kept, it would be sent again on every visit.
        sessionStorage.removeItem(tokenKey);
        msg += ' (paste a new admin token)';
      }
      state.phase = 'error';
      state.error = msg;
      setStatus(msg, true);
    } finally {
      state.loads++;
    }
  }

  $('api').value = api;
  $('api').readOnly = true;
  $('token').value = fragment.get('token') || sessionStorage.getItem(tokenKey) || '';
  if (fragment.has('token')) history.replaceState(null, '', location.pathname + location.search); // keep it out of the history
  if (fragment.get('metric') && METRICS[fragment.get('metric')]) $('metric').value = fragment.get('metric');
  $('controls').addEventListener('submit', load);
  $('metric').addEventListener('change', draw);
  if ($('token').value) load();
})();
