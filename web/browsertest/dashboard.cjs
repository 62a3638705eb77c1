// dashboard.cjs — opens the QoE dashboard in a Chromium that the Go test
// started (cmd/playplane TestDashboardRendersAggregates), waits for it to
// load, and prints what it drew as one JSON object on stdout: every
// breakdown table cell (text and raw value) and every chart series' points.
// It saves a screenshot where the scenario says. It decides nothing: the
// Go test asserts.
//
//   node dashboard.cjs SCENARIO.json     {cdp, url, actions, then, screenshot, timeoutMS}
//
// With actions, the page is then worked as an operator would ({fill:
// SELECTOR, value}, {select: SELECTOR, value}, {click: SELECTOR}, waiting
// after a click for the page to settle again unless nowait), the test's
// servers are asked ({get: URL}) and the page awaited ({waitFor: JS}),
// and what it shows then is printed as acted. With then, the same tab goes on to that URL once the
// first page settled (same tab: the page's sessionStorage carries over),
// and what is printed is that page's.
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require(path.join(process.env.PLAYWRIGHT_CORE_DIR, 'node_modules', 'playwright-core'));

const sc = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));

// snapshot is what the page shows: every breakdown table cell and every
// chart series.
function snapshot(page) {
  return page.evaluate(() => {
    const tables = {};
    for (const t of document.querySelectorAll('table[data-dim]')) {
      tables[t.dataset.dim] = [...t.querySelectorAll('tbody tr')].map((tr) => {
        const row = { value: tr.dataset.value, cells: {} };
        for (const td of tr.querySelectorAll('td[data-col]')) row.cells[td.dataset.col] = { text: td.textContent, raw: td.dataset.raw };
        return row;
      });
    }
    const charts = {};
    for (const id of ['cdn', 'edge']) {
      const svg = document.querySelector('#chart-' + id + ' svg');
      const resp = window.qoeDashboard.responses[id];
      charts[id] = {
        metric: svg ? svg.dataset.metric : '',
        from: resp ? resp.from : '',
        // every text the chart draws (its axes' labels), and its note
        // where it has nothing to draw
        texts: svg ? [...svg.querySelectorAll('text')].map((x) => x.textContent) : [],
        empty: [...document.querySelectorAll('#chart-' + id + ' .empty')].map((x) => x.textContent).join(' '),
        // its note where it leaves values out, and its y axis' labels
        more: [...document.querySelectorAll('#chart-' + id + ' .more')].map((x) => x.textContent).join(' '),
        ticks: svg ? [...svg.querySelectorAll('text[data-tick]')].map((x) => x.textContent) : [],
        series: [...document.querySelectorAll('#chart-' + id + ' g[data-series]')].map((g) => ({
          value: g.dataset.series, points: JSON.parse(g.dataset.points), circles: g.querySelectorAll('circle').length,
          color: g.querySelector('polyline') ? g.querySelector('polyline').getAttribute('stroke') : '',
          tips: [...g.querySelectorAll('circle > title')].map((x) => x.textContent),
          lines: [...g.querySelectorAll('polyline')].map((l) => l.getAttribute('points').trim().split(/\s+/).length),
        })),
      };
    }
    return { phase: window.qoeDashboard.phase, error: window.qoeDashboard.error, status: document.getElementById('status').textContent,
      tokenInURL: location.href.includes('token='), tables, charts };
  });
}

(async () => {
  const out = { console: [] };
  const browser = await chromium.connectOverCDP(sc.cdp);
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') out.console.push(m.type() + ': ' + m.text()); });
    page.on('pageerror', (e) => out.console.push('pageerror: ' + e.message));
    await page.goto(sc.url, { waitUntil: 'load' });
    const settled = () => page.waitForFunction(() => window.qoeDashboard && ['ready', 'error'].includes(window.qoeDashboard.phase),
      null, { timeout: sc.timeoutMS || 30000 });
    await settled();
    for (const a of sc.actions || []) {
      if (a.fill) await page.fill(a.fill, a.value);
      if (a.select) await page.selectOption(a.select, a.value);
      if (a.click) {
        await page.click(a.click);
        if (!a.nowait) await settled();
      }
      if (a.get) await fetch(a.get); // a request of the test's own servers
      if (a.waitFor) await page.waitForFunction(a.waitFor, null, { timeout: sc.timeoutMS || 30000 });
    }
    if (sc.actions) out.acted = await snapshot(page);
    if (sc.then) {
      await page.goto(sc.then, { waitUntil: 'load' });
      // idle: the page sent nothing (no token to send).
      await page.waitForFunction(() => window.qoeDashboard && ['idle', 'ready', 'error'].includes(window.qoeDashboard.phase),
        null, { timeout: sc.timeoutMS || 30000 });
    }
    Object.assign(out, await snapshot(page));
    await page.screenshot({ path: sc.screenshot, fullPage: true });
    await context.close();
  } catch (e) {
    out.scriptError = String(e && e.stack || e);
  }
  // No browser.close(): the Go test owns the browser process and stops it;
  // exiting drops the CDP connection.
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
})().catch((e) => {
  process.stderr.write(String(e && e.stack || e) + '\n');
  process.exit(1);
});
