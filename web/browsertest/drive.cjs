// drive.cjs — drives the player page in a Chromium that the Go test started
// (cmd/playplane TestBrowserPlayback) and prints what it saw. It decides
// nothing: the Go test asserts.
//
//   node drive.cjs CDP_URL
//
// It connects to the browser once and then plays scenarios one after the
// other: each a JSON object {seq, scenario} on one line of stdin, answered
// by one JSON object {seq, out} on one line of stdout (the seq binds an
// answer to its scenario). It exits when stdin ends. One driver for a
// whole suite rather than one per scenario: starting node and loading
// playwright-core costs about a CPU-second each time. Scenarios stay apart:
// each opens its own browser contexts (own cookies and cache) and closes
// every one of them when it ends, failed or not.
//
// PLAYWRIGHT_CORE_DIR is where infra/local/install-browser.sh put
// playwright-core; the browser is the Go test's, so this script never
// starts (or downloads) a browser and owns no process.
'use strict';

const path = require('path');
const readline = require('readline');
const { chromium } = require(path.join(process.env.PLAYWRIGHT_CORE_DIR, 'node_modules', 'playwright-core'));

// sc is the scenario being played.
let sc;
// opened holds the contexts the scenario opened, closed when it ends.
let opened = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function newContext(browser, opts) {
  const context = await browser.newContext(opts);
  opened.push(context);
  return context;
}

// open loads url in a fresh context (own cookies) and records every request
// the page makes, with the CMCD headers and the response status.
async function open(browser, url, opts = {}) {
  const context = await newContext(browser, { viewport: { width: 1000, height: 900 } });
  if (opts.pauseAt) {
    // Pausing from Node (poll, then evaluate) lands seconds late on a loaded
    // machine, by which time a short buffer may already hold the stream's
    // last segment and nothing is left to fetch after a steer. The page
    // pauses itself at its first timeupdate past pauseAt instead (media
    // events do not bubble, but a capturing listener on the document sees
    // them).
    await context.addInitScript((at) => {
      let done = false;
      document.addEventListener('timeupdate', (e) => {
        if (!done && e.target instanceof HTMLMediaElement && e.target.currentTime >= at) {
          done = true;
          e.target.pause();
        }
      }, true);
    }, opts.pauseAt);
  }
  // Every source (re)load of a media element: loadstart when one begins,
  // emptied when a loaded one is torn down. Counted from the start, in
  // window.mediaEvents (capturing: media events do not bubble).
  await context.addInitScript(() => {
    const counts = window.mediaEvents = { loadstart: 0, emptied: 0 };
    for (const type of Object.keys(counts)) {
      document.addEventListener(type, (e) => { if (e.target instanceof HTMLMediaElement) counts[type]++; }, true);
    }
  });
  // With opts.clock, the page's clocks and timers are Playwright's, which
  // the scenario can stop and set (a tab asleep); opts.clock may be
  // clock.install's options (time: a clock set wrong).
  if (opts.clock) await context.clock.install(typeof opts.clock === 'object' ? opts.clock : undefined);
  const page = await context.newPage();
  const rec = { requests: [], console: [], manifests: [] };
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') rec.console.push(m.type() + ': ' + m.text()); });
  page.on('pageerror', (e) => rec.console.push('pageerror: ' + e.message));
  page.on('requestfinished', async (req) => {
    const resp = await req.response().catch(() => null);
    const h = req.headers();
    const cmcd = {};
    for (const k of Object.keys(h)) if (k.startsWith('cmcd-')) cmcd[k] = h[k];
    rec.requests.push({ method: req.method(), url: req.url(), status: resp ? resp.status() : 0, cmcd });
  });
  page.on('requestfailed', (req) => {
    rec.requests.push({ method: req.method(), url: req.url(), status: 0, failure: req.failure() && req.failure().errorText });
  });
  // Every manifest and playlist the page loaded, for the steering tags.
  page.on('response', async (resp) => {
    const u = resp.url();
    if (/\.(m3u8|mpd)(\?|$)|\/manifests?\//.test(u.split('?')[0] + '?') && resp.status() === 200) {
      rec.manifests.push({ url: u, body: await resp.text().catch(() => '') });
    }
  });
  await page.goto(url, { waitUntil: 'load' });
  return { context, page, rec };
}

const snapshot = (page) => page.evaluate(() => JSON.parse(JSON.stringify(window.playplane)));

// until polls the page's state until pred holds or the page failed.
async function until(page, pred, timeoutMS) {
  const deadline = Date.now() + timeoutMS;
  let s;
  for (;;) {
    s = await snapshot(page);
    if (pred(s)) return { state: s, ok: true };
    if (s.phase === 'error' || Date.now() > deadline) return { state: s, ok: false };
    await sleep(100);
  }
}

// logged waits until the page's log has a line with text, whatever the
// page's phase (until gives up on a page in error), or timeoutMS.
async function logged(page, text, timeoutMS) {
  for (const deadline = Date.now() + timeoutMS; Date.now() < deadline; await sleep(100)) {
    if ((await snapshot(page)).log.some((l) => l.includes(text))) return true;
  }
  return false;
}

// refusedSwapHeld: the page learned its token was refused and its
// re-authorization's play is held by a 503 (the scenario's playUnavailable).
const refusedSwapHeld = (s) => s.log.some((l) => l.includes('playback token expired; authorizing again')) &&
  s.log.some((l) => l.includes('POST /v1/play: 503'));

async function stopAndWait(page) {
  await page.click('#stop');
  return until(page, (s) => s.phase === 'stopped' || s.phase === 'ended', 10000);
}

// stopDuringBeat clicks stop while the Go test holds the page's next
// progress heartbeat at the server (sc.beatHold is its control: arm, wait
// until a progress beat is held, click, say so; the Go test lets the beat
// go after that), then waits until the page has an answer to every
// heartbeat it sent, so the state it returns is the page's last word.
async function stopDuringBeat(page) {
  const ctl = sc.beatHold;
  await fetch(ctl + '/arm', { method: 'POST' });
  const held = await (await fetch(ctl + '/held')).json();
  if (!held.held) return { state: await snapshot(page), hold: { held: false } };
  const beforeClick = await snapshot(page);
  await page.click('#stop');
  const atClick = await snapshot(page);
  const clicked = await (await fetch(ctl + '/clicked', { method: 'POST' })).json();
  const done = await until(page, (s) => (s.phase === 'stopped' || s.phase === 'ended') && s.beats.statuses.length === s.beats.sent, 20000);
  // The page's own count, read while the progress is still held: a page
  // that sent its stop in the click's task has sent one more beat here,
  // however fast or late that stop then reaches the server (past the Go
  // test's grace under load, it would be answered after the progress).
  const sentWithClick = atClick.beats.sent - beforeClick.beats.sent;
  return { state: done.state, hold: { held: true, clickedWhileHeld: clicked.held, phaseAtClick: atClick.phase, sentWithClick } };
}

const isSegment = (r) => /\/titles\/[^?]*\.m4s(\?|$)/.test(r.url);

// steer makes the pathway in use fail while the player is paused early on
// (with a short buffer, so later segments are still to come): it asks the
// Go test (sc.steer.control) to report that pathway's edges unhealthy,
// waits until the player's steering answer no longer leads with it, and
// resumes playback. The Go test checks where the segments went.
async function steer(page, rec) {
  const started = await until(page, (s) => s.currentTime >= 0.2, sc.timeoutMS);
  if (!started.ok) return { started: false, state: started.state };
  await page.evaluate(() => document.getElementById('video').pause());
  const segs = rec.requests.filter((r) => isSegment(r) && r.status === 200);
  if (segs.length === 0) return { started: true, error: 'no segment loaded before the pause' };
  const host = new URL(segs[segs.length - 1].url).host;
  const failAt = Date.now();
  const resp = await fetch(sc.steer.control, { method: 'POST', body: JSON.stringify({ host }) });
  const failed = await resp.json();
  if (resp.status !== 200) return { started: true, error: 'control: ' + JSON.stringify(failed) };
  const moved = await until(page, (s) => s.steeringPriority.length > 0 && s.steeringPriority[0] !== failed.cdn, sc.steer.timeoutMS);
  const out = { started: true, failedHost: host, failedCDN: failed.cdn, failAt, steered: moved.ok,
    steeredAt: Date.now(), priority: moved.state.steeringPriority, steeringLoads: moved.state.steeringLoads };
  await page.evaluate(() => document.getElementById('video').play());
  return out;
}

// guessUHD fetches, from the page, the UHD segment a viewer would guess
// from an SD one the player loaded (same name and grant, /uhd/ for /sd/).
// It asks with HEAD, which tells it apart from the player's GETs in the
// server's log, and which the CDN answers as it would the GET.
async function guessUHD(page, rec) {
  const sd = rec.requests.find((r) => isSegment(r) && r.status === 200 && r.url.includes('/sd/'));
  if (!sd) return { error: 'no SD segment loaded' };
  const url = sd.url.replace('/sd/', '/uhd/');
  const res = await page.evaluate(async ({ url, creds }) => {
    try {
      const r = await fetch(url, { method: 'HEAD', credentials: creds });
      return { status: r.status };
    } catch (e) {
      return { error: e.name + ': ' + e.message };
    }
  }, { url, creds: sc.grantCookies ? 'include' : 'omit' });
  return Object.assign({ url }, res);
}

async function playScenario(browser) {
  const { context, page, rec } = await open(browser, sc.url, { pauseAt: sc.steer ? 0.2 : 0 });
  const steered = sc.steer ? await steer(page, rec) : null;
  // The viewer pauses past untilTime; with notStalled, while the picture
  // moves. (Shaka Player 5.2.12 reports sta=p when a stall ends even if
  // the viewer paused during it: events/schemas/cmcd.md.)
  // With untilBeats, also until the page has had that many heartbeats
  // accepted (2: the start at admission, without a position, and the
  // first frame's, which says where it began).
  const played = await until(page, (s) => s.currentTime >= sc.untilTime && !(sc.notStalled && s.buffering) &&
    (!sc.untilBeats || s.beats.ok >= sc.untilBeats), sc.timeoutMS);
  const out = { reached: played.ok, played: played.state, steer: steered };
  // With sc.releases, a page that failed is kept open until it says it
  // gave its session back (after its error heartbeat): closed first, it
  // gives nothing back.
  for (const deadline = Date.now() + sc.timeoutMS; sc.releases && played.state.phase === 'error' && Date.now() < deadline;) {
    const s = await snapshot(page);
    if (s.log.some((l) => l.includes('released session ' + s.sessionID))) break;
    await sleep(100);
  }
  // Paused, the few-second test stream cannot run out (and stop the
  // session by itself) while a slow machine takes the screenshot.
  if (played.ok) await page.evaluate(() => document.getElementById('video').pause());
  if (sc.screenshot) await page.screenshot({ path: sc.screenshot, fullPage: true });
  if (played.ok && sc.guessUHD) out.guess = await guessUHD(page, rec);
  if (played.ok && sc.stop) {
    const stopped = sc.beatHold ? await stopDuringBeat(page) : await stopAndWait(page);
    out.stopped = stopped.state;
    out.beatHold = stopped.hold;
  }
  out.requests = rec.requests;
  out.console = rec.console;
  out.manifests = rec.manifests;
  await context.close();
  return out;
}

// conflictScenario: A plays; B on another device of the same one-stream
// account gets the 409 list and ends A's stream with its button, then
// plays; A learns from its next heartbeat (410) that it is over.
async function conflictScenario(browser) {
  // Each player pauses once it plays: a paused player keeps its stream
  // and keeps heartbeating, and the short test stream cannot end (and
  // stop the session by itself) while the other page works.
  const pause = (page) => page.evaluate(() => document.getElementById('video').pause());
  const a = await open(browser, sc.urlA);
  const aPlaying = await until(a.page, (s) => s.currentTime >= 1, sc.timeoutMS);
  const out = { aPlaying: aPlaying.ok, a: aPlaying.state };
  if (!aPlaying.ok) return out;
  await pause(a.page);
  const b = await open(browser, sc.urlB);
  const bConflict = await until(b.page, (s) => s.phase === 'conflict', sc.timeoutMS);
  out.bConflict = bConflict.state;
  if (!bConflict.ok) return out;
  const button = '[data-end="' + aPlaying.state.sessionID + '"]';
  out.buttonFound = (await b.page.$(button)) !== null;
  if (sc.screenshot) await b.page.screenshot({ path: sc.screenshot, fullPage: true });
  if (!out.buttonFound) return out;
  await b.page.click(button);
  const bPlaying = await until(b.page, (s) => s.currentTime >= 1, sc.timeoutMS);
  out.bPlaying = bPlaying.ok;
  out.bRequests = b.rec.requests;
  out.bConsole = b.rec.console;
  if (bPlaying.ok) await pause(b.page);
  out.b = bPlaying.state;
  const aEnded = await until(a.page, (s) => s.phase === 'ended', sc.timeoutMS);
  out.aEnded = aEnded.ok;
  out.aAfter = aEnded.state;
  // What a player reloading A's manifests or steering would get now.
  out.aReload = await a.page.evaluate(async () => {
    const u = window.playplane.urls || {};
    const res = {};
    for (const [k, url] of Object.entries({ hls: u.manifests && u.manifests.hls, dash: u.manifests && u.manifests.dash, steering: u.steering_uri })) {
      if (!url) continue;
      try {
        const r = await fetch(url);
        const body = await r.text();
        let reason = '';
        try { reason = (JSON.parse(body).error || {}).reason || ''; } catch (e) { /* not JSON */ }
        res[k] = { status: r.status, reason, manifest: body.startsWith('#EXTM3U') || body.includes('<MPD') };
      } catch (e) {
        res[k] = { error: e.name + ': ' + e.message };
      }
    }
    return res;
  });
  if (bPlaying.ok) out.bStopped = (await stopAndWait(b.page)).state;
  await a.context.close();
  await b.context.close();
  return out;
}

// corsScenario: from each page, the fetch a player makes first. A blocked
// origin sees a network error (TypeError), never a status.
async function corsScenario(browser) {
  const out = {};
  for (const [name, url] of Object.entries(sc.pages)) {
    const { context, page } = await open(browser, url);
    out[name] = await page.evaluate(async ({ api, token, body }) => {
      try {
        const r = await fetch(api + '/v1/play', {
          method: 'POST',
          headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
          body: JSON.stringify(body),
        });
        return { status: r.status, body: await r.json() };
      } catch (e) {
        return { error: e.name + ': ' + e.message };
      }
    }, { api: sc.api, token: sc.token, body: sc.bodies[name] });
    await context.close();
  }
  return out;
}

// cmcdScenario: the CMCD-only page (web/player/cmcd.html) plays until
// untilTime, through a stall (sc.stall), then the viewer pauses it for
// holdMS, longer than a lease: whatever keeps the session alive meanwhile is the player's own CMCD.
// Every request to the collector is recorded with its body.
async function cmcdScenario(browser) {
  const context = await newContext(browser);
  const page = await context.newPage();
  const reports = [];
  const consoleLines = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') consoleLines.push(m.type() + ': ' + m.text()); });
  page.on('pageerror', (e) => consoleLines.push('pageerror: ' + e.message));
  page.on('requestfinished', async (req) => {
    if (!req.url().includes('/cmcd/')) return;
    const resp = await req.response().catch(() => null);
    reports.push({ method: req.method(), at: Date.now(), status: resp ? resp.status() : 0,
      contentType: req.headers()['content-type'] || '', body: req.postData() || '', query: new URL(req.url()).search });
  });
  page.on('requestfailed', (req) => {
    if (req.url().includes('/cmcd/')) reports.push({ method: req.method(), at: Date.now(), status: 0, failure: req.failure() && req.failure().errorText });
  });
  await page.goto(sc.url, { waitUntil: 'load' });
  // The viewer pauses past untilTime (with notStalled, while the picture
  // moves) from inside the page, at its first timeupdate there: a pause
  // sent from Node (poll, then evaluate) lands seconds late on a loaded
  // machine, and Shaka, pausing 1.5 s before the 6 s stream's end, could
  // reach it first, reporting ended (sta=e), which ends the session.
  await page.evaluate(({ at, notStalled }) => {
    const video = document.getElementById('video');
    const state = window.playplane;
    const pause = () => {
      if (video.currentTime < at || (notStalled && state.buffering)) return;
      video.removeEventListener('timeupdate', pause);
      video.pause();
      state.pausedAt = Date.now();
    };
    video.addEventListener('timeupdate', pause);
  }, { at: sc.untilTime, notStalled: !!sc.notStalled });
  // With sc.stall, the Go test's edge holds back the segments from
  // sc.stall.at on: once the player has played up to there and stalls, it
  // stays stalled for sc.stall.ms, then the viewer's network recovers (the
  // Go test releases the segments, sc.stall.release).
  let stall;
  if (sc.stall) {
    // A player that runs dry before sc.stall.at (a loaded machine: dash.js
    // once stopped at 1.31 s of 2) waits there for the held segments to
    // refill its buffer: the same stall, so two seconds of buffering past
    // the start count as it too. The Go test still asks that the player
    // requested held segments and reported the stall.
    let dry = 0;
    const stalled = await until(page, (s) => {
      if (!s.buffering || s.currentTime <= 0) { dry = 0; return false; }
      if (s.currentTime >= sc.stall.at - 0.3) return true;
      dry = dry || Date.now();
      return Date.now() - dry >= 2000;
    }, sc.timeoutMS);
    stall = { stalled: stalled.ok, currentTime: stalled.state.currentTime };
    if (stalled.ok) await sleep(sc.stall.ms);
    const resp = await fetch(sc.stall.release, { method: 'POST' });
    stall.held = (await resp.json()).held;
  }
  // The page's own pause (above). (Shaka Player 5.2.12 reports sta=p when
  // a stall ends even if the viewer paused during it:
  // events/schemas/cmcd.md.)
  const played = await until(page, (s) => s.pausedAt > 0, sc.timeoutMS);
  const out = { reached: played.ok, played: played.state, stall };
  if (played.ok) {
    out.pausedAt = played.state.pausedAt;
    await sleep(sc.holdMS);
    out.held = await snapshot(page);
  }
  out.reports = reports;
  out.console = consoleLines;
  await context.close();
  return out;
}

// playing opens sc.url and waits until the player has played past 1 s,
// then pauses it: a paused player keeps its session and heartbeats, and
// the short test stream cannot end by itself while the scenario works.
async function playing(opts) {
  const opened = await open(browser0, sc.url, opts);
  const p = await until(opened.page, (s) => s.currentTime >= 1, sc.timeoutMS);
  if (p.ok) await opened.page.evaluate(() => document.getElementById('video').pause());
  return Object.assign(opened, { ok: p.ok, state: p.state });
}

// replayScenario: once the page plays, the viewer clicks Play twice in a
// row (a double click, or a title switch before the first answer). The
// page must end up playing one session, the one the server keeps, and
// must have told the server where the previous session got to.
async function replayScenario() {
  const a = await playing();
  const out = { aPlaying: a.ok, a: a.state };
  if (!a.ok) return out;
  await a.page.evaluate(() => { const b = document.getElementById('play'); b.click(); b.click(); });
  const b = await until(a.page, (s) => s.sessionID && s.sessionID !== a.state.sessionID && s.currentTime >= 1 && s.phase === 'playing', sc.timeoutMS);
  out.bPlaying = b.ok;
  // Long enough for a second player left behind to fail and take the
  // page (or the server's session) with it.
  await sleep(3000);
  await a.page.evaluate(() => document.getElementById('video').pause());
  out.b = await snapshot(a.page);
  out.requests = a.rec.requests;
  return out;
}

// beatFaultScenario: once the page plays (paused), the Go test's control
// (sc.faults) answers the page's next heartbeats with 503 (and
// Retry-After), then after sc.waitMS (longer than a lease) one with a 4xx.
// The page's state after each is the answer.
async function beatFaultScenario() {
  const a = await playing();
  const out = { playing: a.ok, before: a.state };
  if (!a.ok) return out;
  const arm = async (fault) => {
    await fetch(sc.faults + '/arm', { method: 'POST', body: JSON.stringify(fault) });
    // Until the page has been answered every fault (bounded: a page that
    // does not beat again within the lease has lost it anyway).
    const deadline = Date.now() + sc.waitMS;
    while (Date.now() < deadline) {
      const st = await (await fetch(sc.faults + '/state')).json();
      if (st.left === 0) break;
      await sleep(100);
    }
  };
  await arm(sc.unavailable);
  await sleep(sc.waitMS);
  out.afterUnavailable = await snapshot(a.page);
  await arm(sc.refused);
  await sleep(3000);
  out.afterRefused = await snapshot(a.page);
  return out;
}

// unloadScenario: the viewer leaves the page while it plays (paused); with
// sc.beatHold, while the server holds its next progress heartbeat. The Go
// test then looks for the page's stop at the server.
async function unloadScenario() {
  const a = await playing();
  const out = { playing: a.ok, before: a.state };
  if (!a.ok) return out;
  if (sc.beatHold) {
    await fetch(sc.beatHold + '/arm', { method: 'POST' });
    out.held = (await (await fetch(sc.beatHold + '/held')).json()).held;
    out.beforeLeave = await snapshot(a.page);
  }
  await a.page.goto('about:blank');
  out.leftAt = Date.now();
  await settle(a.state.sessionID);
  return out;
}

// settle holds the scenario, its page left, until the server has what the
// page sent as it went (sc.settle answers done for the session), or
// sc.timeoutMS: the scenario's end closes its browser context, which
// cancels the page's keepalive requests still on their way (preflight
// included), where a real browser, outliving the tab, completes them.
// Another control (url) may be asked the same way; it says whether done
// came.
async function settle(sessionID, url = sc.settle) {
  if (!url) return false;
  for (const end = Date.now() + sc.timeoutMS; Date.now() < end;) {
    const r = await (await fetch(url + '?session=' + encodeURIComponent(sessionID))).json();
    if (r.done) return true;
    await sleep(100);
  }
  return false;
}

// endedScenario: once the page plays (paused), the household ends its
// session from elsewhere (DELETE /v1/sessions/{id} with sc.token, as
// another device's "end this stream" would); the page learns it from its
// next heartbeat (410). The Go test looks for what the page sent then.
async function endedScenario() {
  const a = await playing();
  const out = { playing: a.ok, before: a.state };
  if (!a.ok) return out;
  const resp = await fetch(sc.api + '/v1/sessions/' + a.state.sessionID, { method: 'DELETE', headers: { Authorization: 'Bearer ' + sc.token } });
  out.deleteStatus = resp.status;
  const ended = await until(a.page, (s) => s.phase === 'ended', sc.timeoutMS);
  out.ended = ended.ok;
  // The page's last word: every heartbeat it sent has its answer.
  out.after = (await until(a.page, (s) => s.beats.statuses.length === s.beats.sent, 5000)).state;
  // What the viewer sees, not only what the page knows.
  out.notice = await a.page.evaluate(() => {
    const n = document.getElementById('notice');
    return n && !n.hidden ? n.textContent : '';
  });
  return out;
}

// licenceEndScenario: the page plays (paused) a title whose licence window
// ends a few seconds on, and runs until it has ended (or sc.timeoutMS): the
// Go test looks at its sessions and the server's answers for what it did.
//
// With sc.seekTo, the page's clock runs sc.clockBehindMS behind the
// server's, so that its heartbeat after the end comes seconds late; just
// past the end by the server's clock the viewer seeks to sc.seekTo, beyond
// what the player buffered, and the player fetches what the grants, ended
// with the licence, no longer cover: its failure comes before the page
// hears of the end. The page may go through error on its way to ended.
//
// With sc.playBeforeEndMS, the viewer plays on that long before the end,
// so that the page plays across it.
//
// With sc.sleepPastEnd, the page sleeps (sleepAtRenewal) from just after a
// grant renewal that left another due until its token has ended at the
// server, and wakes with its timers let run: that renewal is the first to
// run. asleep is the page as it fell asleep; a page that played too late
// for such a renewal reports that it did not play.
async function licenceEndScenario() {
  let clock;
  if (sc.seekTo) clock = { clock: { time: Date.now() - sc.clockBehindMS } };
  if (sc.sleepPastEnd) clock = { clock: true };
  const a = await playing(clock);
  const out = { playing: a.ok, before: a.state };
  if (!a.ok) return out;
  if (sc.playBeforeEndMS) await playBeforeEnd(a);
  if (sc.sleepPastEnd) {
    out.asleep = await sleepAtRenewal(a.page);
    if (!out.asleep) return { playing: false, before: await snapshot(a.page) };
    await a.page.clock.resume();
  }
  let ended;
  if (sc.seekTo) {
    await sleep(Math.max(0, Date.parse(a.state.play.licence_ends_at) + 300 - Date.now()));
    await a.page.evaluate((t) => { document.getElementById('video').currentTime = t; }, sc.seekTo);
    const deadline = Date.now() + sc.timeoutMS;
    let s;
    do {
      await sleep(100);
      s = await snapshot(a.page);
    } while (s.phase !== 'ended' && Date.now() < deadline);
    ended = { ok: s.phase === 'ended', state: s };
  } else {
    ended = await until(a.page, (s) => s.phase === 'ended', sc.timeoutMS);
  }
  out.ended = ended.ok;
  out.after = ended.state;
  // What the viewer sees, not only what the page knows.
  out.notice = await a.page.evaluate(() => {
    const n = document.getElementById('notice');
    return n && !n.hidden ? n.textContent : '';
  });
  return out;
}

// playBeforeEnd: the viewer of page a plays on sc.playBeforeEndMS before
// the licence window of its play ends (licence_ends_at), so that it plays
// across the end.
async function playBeforeEnd(a) {
  await sleep(Math.max(0, Date.parse(a.state.play.licence_ends_at) - sc.playBeforeEndMS - Date.now()));
  await a.page.evaluate(() => document.getElementById('video').play());
}

// stopExpiredScenario: once the page plays (paused), the Go test's control
// (sc.faults) answers the page's stop heartbeat 401 token_expired (sc.expired),
// as the server does once the playback token has expired; the viewer presses
// Stop. The Go test looks at the server for what the page did then.
async function stopExpiredScenario() {
  const a = await playing();
  const out = { playing: a.ok, before: a.state };
  if (!a.ok) return out;
  await fetch(sc.faults + '/arm', { method: 'POST', body: JSON.stringify(sc.expired) });
  out.stopped = (await stopAndWait(a.page)).state;
  return out;
}

// swappedOn waits until the page a plays on in another session, its start
// heartbeat sent too (after its grants: closing the page at the swap would
// cut it off), and records that and the page in out. Not the last
// heartbeat's being the start: a progress beat follows it a second on,
// and a poll of a loaded machine can miss that second. A heartbeat of the
// new session accepted stays so; the swap sends its start first.
async function swappedOn(a, out) {
  const b = await until(a.page, (s) => s.sessionID && s.sessionID !== a.state.sessionID && s.phase === 'playing' &&
    s.beats.okSessions.includes(s.sessionID), sc.timeoutMS);
  out.reauthorized = b.ok;
  out.after = b.state;
  return out;
}

// beatExpiredScenario: once the page plays (paused), the Go test's control
// (sc.faults) answers its next heartbeat 401 token_expired (sc.expired),
// as the server does while the page's clock is behind the server's and
// its playback token still good by the page's; the page authorizes again
// and plays on in another session.
async function beatExpiredScenario() {
  const a = await playing();
  const out = { playing: a.ok, before: a.state };
  if (!a.ok) return out;
  await fetch(sc.faults + '/arm', { method: 'POST', body: JSON.stringify(sc.expired) });
  return swappedOn(a, out);
}

// loadingRefusedScenario: the page's first heartbeat, its start before
// the first frame, is refused (answered sc.status) once the page loads
// the stream, or while it still asks for its URLs (the Go test armed the
// fault, with a delay or holding the URLs, and holds back the stream's
// segments, so no frame can come). It records the page once the answer
// came (refused) and a moment later (settled: a page that authorizes
// again has another session by then, one that ends has left loading;
// with sc.whole, sc.settleMS later, whatever it did meanwhile: the URLs
// the Go test held come in that time, and what the page does then
// counts; with sc.final too, once the page has ended or failed, which a
// page that ends does only once it has those URLs), then lets the
// segments through (sc.release) and, unless the refusal ends the page
// (sc.ends), waits until the page plays with its first frame's start
// accepted. A page that ends gives its session (the one refused, or the
// one that took over from it) back after its error heartbeat
// (sc.releases): it is kept open until it says it did, as one closed
// first gives nothing back; or until it logs sc.lastWord, its last word
// to the server. With sc.abortPlay, the play that authorizes the page
// again (it names the session it replaces) gets no answer: the browser
// fails it as a lost network does. first is the session refused.
async function loadingRefusedScenario() {
  const { page } = await open(browser0, sc.url);
  if (sc.abortPlay) {
    await page.route('**/v1/play', (route) => {
      const req = route.request();
      if (req.method() === 'POST' && (req.postData() || '').includes('replaces_session_id')) return route.abort('internetdisconnected');
      return route.continue();
    });
  }
  const first = await until(page, (s) => !!s.sessionID, sc.timeoutMS);
  const refused = await until(page, (s) => s.beats.statuses.includes(sc.status), sc.timeoutMS);
  const out = { first: first.state.sessionID, refused: first.ok && refused.ok, atRefusal: refused.state };
  if (out.refused && sc.whole && sc.final) {
    out.settled = (await until(page, (s) => s.phase === 'ended' || s.phase === 'error', sc.timeoutMS)).state;
  } else if (out.refused && sc.whole) {
    await sleep(sc.settleMS);
    out.settled = await snapshot(page);
  } else if (out.refused) {
    out.settled = (await until(page, (s) => s.sessionID !== out.first || s.phase !== 'loading', sc.settleMS)).state;
  }
  out.held = (await (await fetch(sc.release, { method: 'POST' })).json()).held;
  if (sc.ends) {
    for (const deadline = Date.now() + sc.timeoutMS; (sc.releases || sc.lastWord) && out.refused && Date.now() < deadline;) {
      const s = await snapshot(page);
      if (s.log.some((l) => l.includes(sc.lastWord || 'released session ' + s.sessionID))) break;
      await sleep(100);
    }
    return out;
  }
  // Not the last heartbeat's being the start: a progress beat follows it
  // a second on, and a poll of a loaded machine can miss that second. Nor
  // any heartbeat accepted: the session that took over sends a start
  // without a position as it is admitted. Beats are answered in order,
  // and none has a position before the first frame, so the first one
  // accepted with a position was that frame's start, and every one after
  // keeps this true.
  const p = await until(page, (s) => s.phase === 'playing' && s.currentTime >= 0.5 && s.beats.last &&
    s.beats.last.position_ms !== undefined && s.beats.last.status === 200, sc.timeoutMS);
  out.playing = p.ok;
  out.after = p.state;
  return out;
}

// reauthLostScenario: once the page plays, the Go test's fault (armed
// beforehand) refuses a heartbeat with an answer that has it authorize
// again, and that play (it names the session it replaces) gets no
// answer: the browser fails it as a lost network does. It records the
// page once it has ended or failed (settled), and keeps it open until it
// says it gave its session back (bounded: logged, as until gives up on a
// page in error, which the page is before it gives it back), as one
// closed first gives nothing back.
async function reauthLostScenario() {
  const { page } = await open(browser0, sc.url);
  await page.route('**/v1/play', (route) => {
    const req = route.request();
    if (req.method() === 'POST' && (req.postData() || '').includes('replaces_session_id')) return route.abort('internetdisconnected');
    return route.continue();
  });
  const p = await until(page, (s) => s.startupMS !== null, sc.timeoutMS);
  const out = { playing: p.ok, before: p.state };
  if (!p.ok) return out;
  out.settled = (await until(page, (s) => s.phase === 'ended' || s.phase === 'error', sc.timeoutMS)).state;
  await logged(page, 'released session ' + p.state.sessionID, 5000);
  return out;
}

// endedReauthLostScenario: the Go test's fault (armed beforehand) refuses
// the page's URLs, so that the page authorizes again before it loads, and
// holds at the server the start heartbeat sent as the play was admitted.
// The play authorizing the page again (it names the session it replaces)
// is held in the browser; meanwhile the account ends the session from
// elsewhere (DELETE with sc.token), so that the start, let through, is
// answered 410. Once the page has ended, the held play fails as a lost
// network fails it. It records the page as the play is held (atHold), as
// it ended (ended), and sc.quietMS after the play failed (after).
async function endedReauthLostScenario() {
  const { page } = await open(browser0, sc.url);
  let hold;
  const held = new Promise((resolve) => { hold = resolve; });
  await page.route('**/v1/play', (route) => {
    const req = route.request();
    if (req.method() !== 'POST' || !(req.postData() || '').includes('replaces_session_id')) return route.continue();
    hold(route);
  });
  const route = await Promise.race([held, sleep(sc.timeoutMS)]);
  const out = { held: !!route, atHold: await snapshot(page) };
  if (!route) return out;
  const resp = await fetch(sc.api + '/v1/sessions/' + out.atHold.sessionID, { method: 'DELETE', headers: { Authorization: 'Bearer ' + sc.token } });
  out.deleteStatus = resp.status;
  out.ended = (await until(page, (s) => s.phase === 'ended', sc.timeoutMS)).state;
  await route.abort('internetdisconnected');
  await sleep(sc.quietMS);
  out.after = await snapshot(page);
  return out;
}

// replayDuringErrorScenario: the page's start heartbeat is refused while
// it loads (the Go test armed the fault and holds back the stream's
// segments, and holds the error heartbeat that follows): once the page is
// in error, the segments come (sc.release) and the viewer presses Play
// again, while that heartbeat is in flight. It records the page in error
// (atError), whether the page said it gave a session back (released),
// and the page once the new play plays with its first frame's start
// accepted, or ended (after). first is the session refused.
async function replayDuringErrorScenario() {
  const { page } = await open(browser0, sc.url);
  const first = await until(page, (s) => !!s.sessionID, sc.timeoutMS);
  const failed = await until(page, (s) => s.phase === 'error', sc.timeoutMS);
  const out = { first: first.state.sessionID, failed: first.ok && failed.ok, atError: failed.state };
  if (!out.failed) return out;
  await fetch(sc.release, { method: 'POST' });
  await page.click('#play');
  out.released = (await until(page, (s) => s.log.some((l) => l.includes('released session ')), sc.timeoutMS)).ok;
  const p = await until(page, (s) => s.sessionID !== out.first && (s.phase === 'ended' || s.phase === 'stopped' ||
    s.phase === 'playing' && s.currentTime >= 0.5 && s.beats.last && s.beats.last.position_ms !== undefined && s.beats.last.status === 200), sc.timeoutMS);
  out.playing = p.ok && p.state.phase === 'playing';
  out.after = p.state;
  return out;
}

// loadingRetriedScenario: the page's first heartbeat, its start before
// the first frame, is answered sc.status with Retry-After once (the Go
// test armed the fault and holds back the stream's segments, so no frame
// can come). It records the page once the answer came (answered), and
// sc.settleMS later (settled), whatever it did meanwhile, then lets the
// segments through (sc.release) and waits until the page plays with its
// first frame's start accepted: the last heartbeat answered 200 has a
// position (the start retried before that frame has none). first is the
// session answered so.
async function loadingRetriedScenario() {
  const { page } = await open(browser0, sc.url);
  const first = await until(page, (s) => !!s.sessionID, sc.timeoutMS);
  const answered = await until(page, (s) => s.beats.statuses.includes(sc.status), sc.timeoutMS);
  const out = { first: first.state.sessionID, answered: first.ok && answered.ok, atAnswer: answered.state };
  if (out.answered) {
    await sleep(sc.settleMS);
    out.settled = await snapshot(page);
  }
  out.held = (await (await fetch(sc.release, { method: 'POST' })).json()).held;
  if (!out.answered) return out;
  // Not the last heartbeat's being the start: a progress beat follows it
  // a second on, and a poll of a loaded machine can miss that second.
  // Beats are answered in order, so the first one with a position was
  // that start.
  const p = await until(page, (s) => s.phase === 'playing' && s.currentTime >= 0.5 && s.beats.last &&
    s.beats.last.position_ms !== undefined && s.beats.last.status === 200, sc.timeoutMS);
  out.playing = p.ok;
  out.after = p.state;
  return out;
}

// beatBehindRefusedScenario: the page plays; the Go test holds its next
// progress heartbeat at the server (sc.beatHold), and the viewer pauses
// meanwhile, which queues a pause heartbeat behind the held one. The held
// heartbeat is then answered 401 token_expired (sc.faults arms sc.expired
// before it is let go), as when the page's clock is behind the server's;
// the page authorizes again and plays on in another session. queued says
// the pause was queued while the progress heartbeat was held, which the
// race needs.
async function beatBehindRefusedScenario() {
  const { page } = await open(browser0, sc.url);
  const p = await until(page, (s) => s.phase === 'playing' && s.currentTime >= 0.5, sc.timeoutMS);
  const out = { playing: p.ok, before: p.state };
  if (!p.ok) return out;
  await fetch(sc.beatHold + '/arm', { method: 'POST' });
  out.held = (await (await fetch(sc.beatHold + '/held')).json()).held;
  if (!out.held) return out;
  // Once the page's own pause listener has run (it was added first).
  out.queued = await page.evaluate(() => new Promise((done) => {
    const v = document.getElementById('video');
    if (v.paused) return done(false);
    const playing = window.playplane.phase === 'playing';
    v.addEventListener('pause', () => done(playing), { once: true });
    v.pause();
  }));
  await fetch(sc.faults + '/arm', { method: 'POST', body: JSON.stringify(sc.expired) });
  out.stillHeld = (await (await fetch(sc.beatHold + '/clicked', { method: 'POST' })).json()).held;
  await fetch(sc.beatHold + '/release', { method: 'POST' });
  return swappedOn({ page, state: p.state }, out);
}

// reauthRefusedBeatScenario: the page's scheduled re-authorization comes
// while a progress heartbeat is in flight (sc.beatHold holds it at the
// server), and that heartbeat is then answered 401 token_expired
// (sc.faults arms sc.expired once it is held), as when the page's clock
// is behind the server's. heldFirst says the beat was held before the
// re-authorization began, which the race needs.
async function reauthRefusedBeatScenario() {
  const a = await playing();
  const out = { playing: a.ok, before: a.state };
  if (!a.ok) return out;
  const scheduled = (s) => s.log.some((l) => l.includes('playback token expires at'));
  await fetch(sc.beatHold + '/arm', { method: 'POST' });
  const held = (await (await fetch(sc.beatHold + '/held')).json()).held;
  out.held = held;
  out.heldFirst = held && !scheduled(await snapshot(a.page));
  await fetch(sc.faults + '/arm', { method: 'POST', body: JSON.stringify(sc.expired) });
  const r = await until(a.page, scheduled, sc.timeoutMS);
  out.scheduled = r.ok;
  await fetch(sc.beatHold + '/release', { method: 'POST' });
  if (!out.heldFirst || !r.ok) return out;
  return swappedOn(a, out);
}

// leaveEarlyScenario: the viewer leaves the page once its play is admitted
// but before the first frame (the Go test holds the segments back, so none
// comes). The Go test looks for the session's release at the server.
async function leaveEarlyScenario() {
  const { page } = await open(browser0, sc.url);
  const a = await until(page, (s) => s.sessionID !== '' && s.phase === 'loading', sc.timeoutMS);
  const out = { admitted: a.ok, before: a.state };
  if (a.ok) {
    await page.goto('about:blank');
    await settle(a.state.sessionID);
  }
  return out;
}

// leaveFailingScenario: the viewer leaves the page as soon as it shows an
// error (the Go test refused its start heartbeat and holds the error
// heartbeat that follows). The Go test looks for the session's release at
// the server.
async function leaveFailingScenario() {
  const { page } = await open(browser0, sc.url);
  const a = await until(page, (s) => s.phase === 'error', sc.timeoutMS);
  const out = { failed: a.state.phase === 'error', atError: a.state };
  if (out.failed) {
    await page.goto('about:blank');
    await settle(a.state.sessionID);
  }
  return out;
}

// openStalled opens the page and waits for its stall at sc.stall.at; out
// says whether it came and what the page showed then, and when it did not
// come the held segment is let go, so the scenario can only report.
async function openStalled() {
  // sc.clockBehindMS: the page's clock runs that far behind the server's
  // (Playwright's clock), as in leaveRefusedSwapScenario.
  // sc.clock: the page's clock and timers are Playwright's (sleepUntil).
  const { page } = await open(browser0, sc.url, sc.clockBehindMS ? { clock: { time: Date.now() - sc.clockBehindMS } } : { clock: !!sc.clock });
  const stalled = await untilStalled(page);
  const out = { stalled, before: await snapshot(page) };
  if (!stalled) {
    out.held = await releaseStall();
  }
  return { page, out };
}

// untilStalled waits until the page is stalled at sc.stall.at: past the
// first frame, at the held segment, starved and not paused or seeking, and
// counted by the page.
async function untilStalled(page) {
  const deadline = Date.now() + sc.timeoutMS;
  while (Date.now() < deadline) {
    const stalled = await page.evaluate((at) => {
      const v = document.getElementById('video');
      return window.playplane.stalls > 0 && v.currentTime >= at - 0.3 && v.readyState < HTMLMediaElement.HAVE_FUTURE_DATA &&
        !v.paused && !v.seeking;
    }, sc.stall.at);
    if (stalled) return true;
    await sleep(100);
  }
  return false;
}

// releaseStall has the Go test's edge let the held segments go, and says
// how many it held.
async function releaseStall() {
  return (await (await fetch(sc.stall.release, { method: 'POST' })).json()).held;
}

// stallPauseScenario: the page plays until it runs dry at sc.stall.at,
// where the Go test's edge holds the next segment back, and stalls there;
// the viewer pauses during the stall and stays paused for sc.pauseMS, half
// way through which the segments come (sc.stall.release); then plays on
// a second past the stall and stops. The Go test compares the stall time
// the page reported with the pause.
async function stallPauseScenario() {
  const { page, out } = await openStalled();
  if (!out.stalled) {
    return out;
  }
  await sleep(500);
  await page.evaluate(() => document.getElementById('video').pause());
  await sleep(sc.pauseMS / 2);
  out.held = await releaseStall();
  await sleep(sc.pauseMS / 2);
  await page.evaluate(() => document.getElementById('video').play());
  out.playedOn = (await until(page, (s) => s.currentTime >= sc.stall.at + 1, sc.timeoutMS)).ok;
  out.stopped = (await stopAndWait(page)).state;
  return out;
}

// stallEndedScenario: the page stalls at sc.stall.at (the Go test's edge
// holds the next segment back) and, while it is stalled, its session is
// ended from elsewhere (DELETE with sc.token), which the page learns from
// its next heartbeat (410) and tears its player down; the network
// recovers (sc.stall.release) and the viewer presses Play again, which
// plays a new session from the start until the viewer pauses at 1 s.
async function stallEndedScenario() {
  const { page, out } = await openStalled();
  if (!out.stalled) {
    return out;
  }
  const resp = await fetch(sc.api + '/v1/sessions/' + out.before.sessionID, { method: 'DELETE', headers: { Authorization: 'Bearer ' + sc.token } });
  out.deleteStatus = resp.status;
  out.ended = (await until(page, (s) => s.phase === 'ended', sc.timeoutMS)).ok;
  out.held = await releaseStall();
  await page.click('#play');
  const again = await until(page, (s) => s.sessionID && s.sessionID !== out.before.sessionID && s.phase === 'playing' && s.currentTime >= 1, sc.timeoutMS);
  out.playedAgain = again.ok;
  if (again.ok) {
    await page.evaluate(() => document.getElementById('video').pause());
    await sleep(200);
    out.after = (await until(page, (s) => s.beats.statuses.length === s.beats.sent, 5000)).state;
  }
  return out;
}

// stallReauthScenario: the page stalls at sc.stall.at (the Go test's edge
// holds the next segment back) and, still stalled, authorizes again ahead
// of its playback token's expiry (or, with sc.clockBehindMS, once the
// server refused it): the new session (tookOver) takes over in the stall.
// The stall goes on for sc.stalledOnMS (heartbeats of the new session go
// out in it, and with a stalledOnMS past the next re-authorization, that
// session is replaced in the stall too), then the network recovers
// (atRelease is the page's session then, stalledAtRelease whether it was
// still stalled) and the page plays on to sc.playOn, where the viewer
// pauses. Sessions may be replaced after the stall as well (their tokens
// expire on): after is the last.
async function stallReauthScenario() {
  const { page, out } = await openStalled();
  if (!out.stalled) {
    return out;
  }
  const b = await until(page, (s) => s.sessionID && s.sessionID !== out.before.sessionID, sc.timeoutMS);
  out.reauthorized = b.ok;
  out.tookOver = b.state.sessionID;
  const stalled = () => page.evaluate(() => {
    const v = document.getElementById('video');
    return v.readyState < HTMLMediaElement.HAVE_FUTURE_DATA && !v.paused;
  });
  out.stalledAtSwap = await stalled();
  await sleep(sc.stalledOnMS);
  out.atRelease = (await snapshot(page)).sessionID;
  out.stalledAtRelease = await stalled();
  out.held = await releaseStall();
  if (!b.ok) return out;
  out.playedOn = (await until(page, (s) => s.currentTime >= sc.playOn, sc.timeoutMS)).ok;
  await page.evaluate(() => document.getElementById('video').pause());
  await sleep(200);
  out.after = (await until(page, (s) => s.beats.statuses.length === s.beats.sent, 5000)).state;
  return out;
}

// openBehind opens sc.url with the page's clock sc.clockBehindMS behind
// the server's (Playwright's clock) and, once its play is admitted, arms
// the Go test's control (sc.faults) with fault: the play is answered as
// it is, the page's requests after it meet the fault. admitted is the
// page's state then, and whether it came.
async function openBehind(fault) {
  const a = await open(browser0, sc.url, { clock: { time: Date.now() - sc.clockBehindMS } });
  const admitted = await until(a.page, (s) => s.sessionID !== '', sc.timeoutMS);
  if (admitted.ok) await fetch(sc.faults + '/arm', { method: 'POST', body: JSON.stringify(fault) });
  return Object.assign(a, { admitted });
}

// stallRefusedEndScenario: the page's clock runs sc.clockBehindMS behind
// the server's, on a runner whose playback tokens expire within seconds,
// and it is stalled at sc.stall.at (the Go test's edge holds the next
// segment back) when the server refuses its token (401 token_expired).
// Its re-authorization's play is answered 503 with Retry-After
// (sc.playUnavailable, armed once the first play is admitted): the swap
// waits there. The viewer then pauses, which ends the stall and the
// page's count of it, and ends the session: sc.end 'stop' presses Stop
// and waits until the page is stopped, 'leave' leaves the page; either
// way the scenario waits for the server to have the page's last requests
// (settle). refused says the viewer did so while the page was still on
// the session whose token was refused; atEnd is the page's state then,
// its stall time final.
async function stallRefusedEndScenario() {
  const a = await openBehind(sc.playUnavailable);
  if (!a.admitted.ok) return { stalled: false, before: a.admitted.state };
  const stalled = await untilStalled(a.page);
  const out = { stalled, before: await snapshot(a.page) };
  if (!stalled) {
    out.held = await releaseStall();
    return out;
  }
  const id = out.before.sessionID;
  const r = await until(a.page, refusedSwapHeld, sc.timeoutMS);
  out.refused = r.ok && r.state.sessionID === id && r.state.phase === 'playing' &&
    await a.page.evaluate(() => document.getElementById('video').readyState < HTMLMediaElement.HAVE_FUTURE_DATA);
  if (!out.refused) {
    out.atEnd = r.state;
    out.held = await releaseStall();
    return out;
  }
  // Once the page's own pause listener has stopped its stall clock (it
  // was added first).
  await a.page.evaluate(() => new Promise((done) => {
    const v = document.getElementById('video');
    v.addEventListener('pause', () => done(), { once: true });
    v.pause();
  }));
  if (sc.end === 'stop') {
    await a.page.click('#stop');
    out.atEnd = (await until(a.page, (s) => s.phase === 'stopped', sc.timeoutMS)).state;
  } else {
    out.atEnd = await snapshot(a.page);
    await a.page.goto('about:blank');
  }
  await settle(id);
  out.held = await releaseStall();
  return out;
}

// stallWakeScenario: on a runner whose playback tokens live sc.tokenTTLMS
// and whose heartbeats come far apart, the page stalls at sc.stall.at
// (the Go test's edge holds the next segment back) and, still stalled,
// sleeps as a suspended tab does (Playwright's clock stopped) from a
// moment before its re-authorization is due, a quarter of the token's
// life ahead of its expiry (reauthorizeBefore), until the token has
// expired at the server. It wakes with that re-authorization due before
// any other request with the token: no answer told the page that its
// token expired, its own clock does. The stall goes on for
// sc.stalledOnMS once the page plays on in another session, with a
// heartbeat of that session accepted (atReauth), then the network
// recovers and the page plays on to sc.playOn, where the viewer pauses.
// asleep is the page's state as it fell asleep.
async function stallWakeScenario() {
  const { page, out } = await openStalled();
  if (!out.stalled) return out;
  const sleepAt = Date.parse(out.before.play.token_expires_at) - sc.tokenTTLMS / 4 - 200;
  await sleep(Math.max(0, sleepAt - 100 - await page.evaluate(() => Date.now())));
  out.asleep = await sleepPastToken(page, Math.max(sleepAt, await page.evaluate(() => Date.now() + 50)));
  await page.clock.resume();
  // A heartbeat of the new session accepted (its start, sent after its
  // grants), not any: beats.ok counts the first session's too.
  const b = await until(page, (s) => s.sessionID && s.sessionID !== out.before.sessionID &&
    s.beats.okSessions.includes(s.sessionID), sc.timeoutMS);
  out.reauthorized = b.ok;
  out.atReauth = b.state;
  await sleep(sc.stalledOnMS);
  out.held = await releaseStall();
  if (!b.ok) {
    out.after = b.state;
    return out;
  }
  out.playedOn = (await until(page, (s) => s.currentTime >= sc.playOn, sc.timeoutMS)).ok;
  await page.evaluate(() => document.getElementById('video').pause());
  await sleep(200);
  out.after = (await until(page, (s) => s.beats.statuses.length === s.beats.sent, 5000)).state;
  return out;
}

// crashEarlyScenario: the page's renderer crashes once its play is
// admitted but before the first frame (the Go test holds the segments
// back), with every heartbeat it sent answered: the page dies without a
// word, no pagehide, no stop, as a killed tab or a lost network leaves a
// view. The Go test looks at what the server made of it.
async function crashEarlyScenario() {
  const { page } = await open(browser0, sc.url);
  const a = await until(page, (s) => s.sessionID !== '' && s.phase === 'loading' && s.beats.statuses.length === s.beats.sent, sc.timeoutMS);
  const out = { admitted: a.ok, before: a.state, crashed: false };
  if (!a.ok) return out;
  const crashed = new Promise((resolve) => page.once('crash', () => resolve(true)));
  const cdp = await page.context().newCDPSession(page);
  // Page.crash never answers: the renderer it would answer from is gone.
  cdp.send('Page.crash').catch(() => {});
  out.crashed = await Promise.race([crashed, sleep(10000).then(() => false)]);
  return out;
}

// pageTransition fires the event type (pagehide, pageshow) of a page
// going into the back/forward cache or shown back from it (persisted) on
// page. The headless shell keeps no page in that cache (its delegate
// disables it: BackForwardCacheDisabledForDelegate), so the scenarios
// fire the events the browser would; the page lives on in between, as a
// page in the cache does once shown back, though it is not frozen.
const pageTransition = (page, type) =>
  page.evaluate((type) => window.dispatchEvent(new PageTransitionEvent(type, { persisted: true })), type);

// bfcacheScenario: the page goes into the back/forward cache while it
// plays (paused), comes back from it, and the viewer presses Play
// (pageTransition: pagehide and then pageshow).
async function bfcacheScenario() {
  const a = await playing();
  const out = { playing: a.ok, before: a.state };
  if (!a.ok) return out;
  await pageTransition(a.page, 'pagehide');
  out.hidden = (await until(a.page, (s) => s.beats.last && s.beats.last.event === 'stop', 5000)).state;
  await pageTransition(a.page, 'pageshow');
  out.restored = await snapshot(a.page);
  out.playEnabled = await a.page.evaluate(() => !document.getElementById('play').disabled);
  await a.page.click('#play');
  const again = await until(a.page, (s) => s.sessionID && s.sessionID !== a.state.sessionID && s.phase === 'playing', sc.timeoutMS);
  out.playingAgain = again.ok;
  out.again = again.state;
  return out;
}

// reauthScenario: the page plays (paused) on a runner whose playback
// tokens expire within seconds; the scenario waits until it plays a
// session other than its first, with a heartbeat of that session
// accepted. Then, once the first token (and the grants that ended with it) has expired, the viewer
// plays on to sc.playOn seconds: what the player fetches from then on
// needs the new session's grants. The media element's source loads
// (window.mediaEvents) are read before and after (before sc.stopAfter).
// With sc.playBeforeEndMS the viewer plays on that long before the first
// play's licence ends (playBeforeEnd).
async function reauthScenario() {
  const a = await playing();
  const media = () => a.page.evaluate(() => Object.assign({}, window.mediaEvents));
  const out = { playing: a.ok, before: a.state, mediaBefore: await media() };
  if (!a.ok) return out;
  if (sc.playBeforeEndMS) await playBeforeEnd(a);
  // A heartbeat of the new session accepted (its start, sent after its
  // grants), not any: beats.ok counts the first session's too.
  const b = await until(a.page, (s) => s.sessionID && s.sessionID !== a.state.sessionID && s.phase === 'playing' &&
    s.beats.okSessions.includes(s.sessionID), sc.timeoutMS);
  out.reauthorized = b.ok;
  out.after = b.state;
  // sc.stopPaused: the viewer stops there instead, never playing on.
  if (b.ok && sc.stopPaused) {
    out.end = (await stopAndWait(a.page)).state;
    return out;
  }
  if (b.ok) {
    await sleep(Math.max(0, Date.parse(a.state.play.token_expires_at) + 1000 - Date.now()));
    out.playFrom = Date.now();
    await a.page.evaluate(() => document.getElementById('video').play());
    const c = await until(a.page, (s) => s.currentTime >= sc.playOn, sc.timeoutMS);
    out.playedOn = c.ok;
    out.end = c.state;
  }
  out.mediaAfter = await media();
  // sc.stopAfter: the viewer pauses there, then stops: every counter of
  // the page's play has been told by its last stop.
  if (out.playedOn && sc.stopAfter) {
    await a.page.evaluate(() => document.getElementById('video').pause());
    await sleep(300);
    out.stopped = (await stopAndWait(a.page)).state;
  }
  out.requests = a.rec.requests;
  return out;
}

// reauthEndedScenario: the page plays (paused) on a runner whose playback
// tokens expire within seconds. When it authorizes again ahead of the
// expiry (the heartbeat it sends first answered), its POST /v1/play is
// held while the account ends the session from another screen (DELETE
// /v1/sessions/{id} with sc.token), then let through: the end lands just
// before the re-authorization. With sc.endAfter the play goes first and
// the DELETE of the session it replaced (a list read before it) follows
// its answer, before the page sees it. The scenario runs until the page
// has ended or, without sc.endAfter, plays another session (sc.timeoutMS);
// out.play is the held play's body and status.
async function reauthEndedScenario() {
  const a = await playing();
  const out = { playing: a.ok, before: a.state };
  if (!a.ok) return out;
  await a.page.route((u) => u.pathname === '/v1/play', async (route) => {
    const req = route.request();
    if (req.method() !== 'POST') return route.continue();
    if (out.play) return route.continue();
    out.play = { body: req.postDataJSON() };
    const end = async () => {
      const resp = await fetch(sc.api + '/v1/sessions/' + a.state.sessionID, { method: 'DELETE', headers: { Authorization: 'Bearer ' + sc.token } });
      out.deleteStatus = resp.status;
    };
    if (!sc.endAfter) await end();
    const answer = await route.fetch();
    out.play.status = answer.status();
    if (sc.endAfter) await end();
    await route.fulfill({ response: answer });
  });
  const b = await until(a.page, (s) => s.phase === 'ended' || (!sc.endAfter && s.sessionID !== a.state.sessionID && s.phase === 'playing'), sc.timeoutMS);
  out.ended = b.ok && b.state.phase === 'ended';
  // The page's last word: every heartbeat it sent has its answer.
  out.after = (await until(a.page, (s) => s.beats.statuses.length === s.beats.sent, 5000)).state;
  out.notice = await a.page.evaluate(() => {
    const n = document.getElementById('notice');
    return n && !n.hidden ? n.textContent : '';
  });
  return out;
}

// sleepPastToken: the page sleeps as a suspended tab does: its clock and
// timers stop (Playwright's clock) at the page's time at (a moment ahead
// unless given: the page's clock runs on while this is asked) until the
// playback token of the session it plays has expired at the server, and
// it wakes with its clock set to now, before any of its timers ran. It
// returns the page's state as it fell asleep.
async function sleepPastToken(page, at) {
  await page.clock.pauseAt(at || await page.evaluate(() => Date.now() + 1000));
  const asleep = await snapshot(page);
  await sleep(Math.max(0, Date.parse(asleep.play.token_expires_at) + 1000 - Date.now()));
  await page.clock.setSystemTime(Date.now());
  return asleep;
}

// sleepAtRenewal: once every heartbeat the page sent is answered, the
// page sleeps (sleepPastToken) just after a grant renewal whose grants end
// a second or more before its licence window does, which leaves the next
// renewal due (renewBefore) at least half a second on: the first of its
// timers once it wakes. It returns the page's state as it fell asleep, or
// null when no such renewal came before the last one the window allows.
async function sleepAtRenewal(page) {
  let renewals = (await snapshot(page)).renewals;
  for (;;) {
    const s = await snapshot(page);
    const end = Date.parse(s.play.licence_ends_at);
    if (Date.now() > end - 3000) return null;
    if (s.renewals > renewals && s.beats.sent === s.beats.statuses.length) {
      const line = s.log.filter((l) => l.includes(' grants renewed until ')).pop() || '';
      if (Date.parse(line.split(' grants renewed until ')[1]) < end - 1000) {
        return sleepPastToken(page, await page.evaluate(() => Date.now() + 50));
      }
    }
    renewals = s.renewals;
    await sleep(20);
  }
}

// leaveExpiredScenario: the page plays (paused), then sleeps as a
// suspended tab does: its clock and timers stop (Playwright's clock)
// until the playback token of the session it plays has expired at the
// server. It wakes with its clock set to now, before any of its timers
// ran, and the viewer leaves it there. The Go test looks for the
// session's release at the server.
async function leaveExpiredScenario() {
  const a = await playing({ clock: true });
  const out = { playing: a.ok, before: a.state };
  if (!a.ok) return out;
  const asleep = await sleepPastToken(a.page);
  out.asleep = asleep;
  await a.page.goto('about:blank');
  await settle(asleep.sessionID);
  return out;
}

// leaveRefusedSwapScenario: the page's clock runs sc.clockBehindMS behind
// the server's (Playwright's clock), on a runner whose playback tokens
// expire within seconds: the server refuses the token (401 token_expired)
// while the page's clock still holds it good. Once the page's play is
// admitted the Go test's control (sc.faults) is armed with
// sc.playUnavailable, which answers the page's next play, that of its
// re-authorization, 503 with Retry-After: the swap waits there. The page
// plays (paused); once its token was refused and its new play answered
// 503, the viewer leaves it. held says the page was left there, still on
// the session whose token was refused. The Go test looks at the server
// for what the page did with that session.
async function leaveRefusedSwapScenario() {
  const { a, out } = await heldRefusedSwap();
  if (!out.held) return out;
  await a.page.goto('about:blank');
  await settle(out.before.sessionID);
  return out;
}

// leaveReauthHeldScenario: once the page's play is admitted (with
// sc.playing, once it plays), the Go test's fault (armed beforehand)
// refuses a heartbeat with an answer that has it authorize again; the
// runner admits that play and holds its answer (sc.held says when it
// does). The viewer leaves then, the page still on the session the play
// replaced (atLeave), and the scenario waits until the Go test has the
// page's last words on it (settle). The Go test looks at the server for
// the session the play admitted.
async function leaveReauthHeldScenario() {
  const { page } = await open(browser0, sc.url);
  const p = await until(page, (s) => sc.playing ? s.currentTime >= 1 : !!s.sessionID, sc.timeoutMS);
  const out = { playing: p.ok, before: p.state };
  if (!p.ok) return out;
  out.held = await settle(p.state.sessionID, sc.held);
  out.atLeave = await snapshot(page);
  if (!out.held) return out;
  await page.goto('about:blank');
  await settle(p.state.sessionID);
  return out;
}

// heldRefusedSwap opens the page as leaveRefusedSwapScenario does and
// waits, the page playing (paused), until its token was refused and its
// new play answered 503. out.held says the page is there, still on the
// session whose token was refused (atLeave).
async function heldRefusedSwap() {
  const a = await openBehind(sc.playUnavailable);
  if (!a.admitted.ok) return { a, out: { playing: false, before: a.admitted.state } };
  const p = await until(a.page, (s) => s.currentTime >= 1, sc.timeoutMS);
  const out = { playing: p.ok, before: p.state };
  if (!p.ok) return { a, out };
  await a.page.evaluate(() => document.getElementById('video').pause());
  const r = await until(a.page, refusedSwapHeld, sc.timeoutMS);
  out.held = r.ok && r.state.sessionID === p.state.sessionID && r.state.phase === 'playing';
  out.atLeave = r.state;
  return { a, out };
}

// hideRefusedSwapScenario: as in leaveRefusedSwapScenario, the page's
// token was refused and its new play is held (heldRefusedSwap); there the
// page goes into the back/forward cache and is shown back from it, living
// on meanwhile (pageTransition: the events the browser would fire). With
// sc.stopRefused, the Go test's control is armed with it just before
// (answering the page's stop as it goes), which ends sc.playUnavailable:
// the new play is then answered as it is. The scenario waits until the Go
// test has what the page sent (settle), and sc.quietMS more for what the
// page may send after, and reports the page (after).
async function hideRefusedSwapScenario() {
  const { a, out } = await heldRefusedSwap();
  if (!out.held) return out;
  if (sc.stopRefused) await fetch(sc.faults + '/arm', { method: 'POST', body: JSON.stringify(sc.stopRefused) });
  await pageTransition(a.page, 'pagehide');
  await pageTransition(a.page, 'pageshow');
  await settle(out.before.sessionID);
  await sleep(sc.quietMS);
  out.after = await snapshot(a.page);
  return out;
}

// hideSwapAbortedScenario: the page plays (paused) on a runner whose
// playback tokens expire within seconds, and the play that authorizes it
// again ahead of the expiry (the first that names the session it
// replaces) is held in the browser. There the page goes into the
// back/forward cache and is shown back from it (pageTransition), and only
// then does that play fail, as a lost network fails it: a page frozen in
// the cache hears of a request cut off as it went only once it runs
// again. The scenario reports the page as shown back (restored), sc.quietMS
// after the play failed (after), whether Play is enabled then, and the
// page once the viewer pressed it and it plays a new session (again).
async function hideSwapAbortedScenario() {
  const { page } = await open(browser0, sc.url);
  let hold;
  const held = new Promise((resolve) => { hold = resolve; });
  let taken = false;
  await page.route('**/v1/play', (route) => {
    const req = route.request();
    if (taken || req.method() !== 'POST' || !(req.postData() || '').includes('replaces_session_id')) return route.continue();
    taken = true;
    hold(route);
  });
  const p = await until(page, (s) => s.currentTime >= 1, sc.timeoutMS);
  const out = { playing: p.ok, before: p.state };
  if (!p.ok) return out;
  await page.evaluate(() => document.getElementById('video').pause());
  const route = await Promise.race([held, sleep(sc.timeoutMS)]);
  out.atHide = await snapshot(page);
  out.held = !!route && out.atHide.sessionID === p.state.sessionID && out.atHide.phase === 'playing';
  if (!out.held) return out;
  await pageTransition(page, 'pagehide');
  await pageTransition(page, 'pageshow');
  out.restored = await snapshot(page);
  await route.abort('internetdisconnected');
  await sleep(sc.quietMS);
  out.after = await snapshot(page);
  out.playEnabled = await page.evaluate(() => !document.getElementById('play').disabled);
  await page.click('#play');
  const again = await until(page, (s) => s.sessionID && s.sessionID !== p.state.sessionID && s.phase === 'playing', sc.timeoutMS);
  out.playingAgain = again.ok;
  out.again = again.state;
  return out;
}

// leaveDuringLastStopScenario: as leaveRefusedSwapScenario, the server
// refuses the page's playback token while the page's clock holds it good;
// the re-authorization's play is admitted (201, replacing the session)
// and the stop that tells the refused session's last counters (lastStop)
// is held by the Go test's control (sc.faults armed with sc.stopHeld):
// the viewer leaves then. newSession is the session that play admitted;
// held says the page was left there.
async function leaveDuringLastStopScenario() {
  const a = await openBehind(sc.stopHeld);
  if (!a.admitted.ok) return { playing: false, before: a.admitted.state };
  const first = a.admitted.state.sessionID;
  let newSession = '';
  a.page.on('response', async (r) => {
    if (r.request().method() !== 'POST' || !r.url().endsWith('/v1/play') || r.status() !== 201) return;
    const d = await r.json().catch(() => null);
    if (d && d.session_id !== first) newSession = d.session_id;
  });
  const p = await until(a.page, (s) => s.currentTime >= 1, sc.timeoutMS);
  const out = { playing: p.ok, before: p.state };
  if (!p.ok) return out;
  await a.page.evaluate(() => document.getElementById('video').pause());
  out.held = false;
  for (const end = Date.now() + sc.timeoutMS; Date.now() < end && !out.held;) {
    const f = await (await fetch(sc.faults + '/state')).json();
    out.held = f.left === 0 && newSession !== '';
    if (!out.held) await sleep(50);
  }
  out.atLeave = await snapshot(a.page);
  out.held = out.held && out.atLeave.sessionID === first;
  out.newSession = newSession;
  if (!out.held) return out;
  // The tab is closed (its context, which carries its keepalive
  // requests, stays): nothing of the page runs after its pagehide, as in
  // a browser whose tab is closed, where a navigation away would let the
  // swap's await go on for a while.
  await a.page.close({ runBeforeUnload: true });
  await settle(newSession);
  return out;
}

// wakeExpiredScenario: the page plays (paused), then sleeps as a
// suspended tab does (Playwright's clock) until its playback token has
// expired at the server; it wakes with its clock set to now and its
// timers let run, the grant renewal due before the re-authorization. The
// page must authorize again (a session other than its first, with a
// heartbeat of that session accepted) and play on to sc.playOn seconds.
async function wakeExpiredScenario() {
  const a = await playing({ clock: true });
  const out = { playing: a.ok, before: a.state };
  if (!a.ok) return out;
  const asleep = await sleepPastToken(a.page);
  out.asleep = asleep;
  await a.page.clock.resume();
  // A heartbeat of the new session accepted (its start, sent after its
  // grants), not any: beats.ok counts the first session's too.
  const b = await until(a.page, (s) => s.sessionID && s.sessionID !== asleep.sessionID && s.phase === 'playing' &&
    s.beats.okSessions.includes(s.sessionID), sc.timeoutMS);
  out.reauthorized = b.ok;
  out.after = b.state;
  if (b.ok) {
    await a.page.evaluate(() => document.getElementById('video').play());
    const c = await until(a.page, (s) => s.currentTime >= sc.playOn, sc.timeoutMS);
    out.playedOn = c.ok;
    out.end = c.state;
  }
  return out;
}

// deviceLimitScenario: the page, on a new device of an account whose
// registered devices fill its plan, gets the 403 device_limit list; the
// viewer removes sc.remove with its button and the page plays.
async function deviceLimitScenario() {
  const { page, rec } = await open(browser0, sc.url);
  const limited = await until(page, (s) => s.phase === 'device_limit', sc.timeoutMS);
  const out = { limited: limited.ok, limit: limited.state, requests: rec.requests };
  if (!limited.ok) return out;
  out.list = await page.$eval('#conflict', (e) => e.innerText);
  const button = '[data-remove="' + sc.remove + '"]';
  out.buttonFound = (await page.$(button)) !== null;
  if (sc.screenshot) await page.screenshot({ path: sc.screenshot, fullPage: true });
  if (!out.buttonFound) return out;
  await page.click(button);
  const played = await until(page, (s) => s.currentTime >= 1, sc.timeoutMS);
  out.playing = played.ok;
  out.played = played.state;
  if (played.ok) out.stopped = (await stopAndWait(page)).state;
  return out;
}

// browser0 is the browser the scenarios play in.
let browser0;

async function play(browser, scenario) {
  sc = scenario;
  opened = [];
  browser0 = browser;
  try {
    switch (sc.kind) {
      case 'play': return await playScenario(browser);
      case 'conflict': return await conflictScenario(browser);
      case 'cors': return await corsScenario(browser);
      case 'cmcd': return await cmcdScenario(browser);
      case 'replay': return await replayScenario();
      case 'beatFault': return await beatFaultScenario();
      case 'unload': return await unloadScenario();
      case 'ended': return await endedScenario();
      case 'licenceEnd': return await licenceEndScenario();
      case 'leaveEarly': return await leaveEarlyScenario();
      case 'leaveFailing': return await leaveFailingScenario();
      case 'crashEarly': return await crashEarlyScenario();
      case 'stallPause': return await stallPauseScenario();
      case 'stallEnded': return await stallEndedScenario();
      case 'stallReauth': return await stallReauthScenario();
      case 'stopExpired': return await stopExpiredScenario();
      case 'beatExpired': return await beatExpiredScenario();
      case 'loadingRefused': return await loadingRefusedScenario();
      case 'reauthLost': return await reauthLostScenario();
      case 'endedReauthLost': return await endedReauthLostScenario();
      case 'loadingRetried': return await loadingRetriedScenario();
      case 'replayDuringError': return await replayDuringErrorScenario();
      case 'reauthRefusedBeat': return await reauthRefusedBeatScenario();
      case 'beatBehindRefused': return await beatBehindRefusedScenario();
      case 'bfcache': return await bfcacheScenario();
      case 'reauth': return await reauthScenario();
      case 'reauthEnded': return await reauthEndedScenario();
      case 'leaveExpired': return await leaveExpiredScenario();
      case 'wakeExpired': return await wakeExpiredScenario();
      case 'leaveRefusedSwap': return await leaveRefusedSwapScenario();
      case 'leaveReauthHeld': return await leaveReauthHeldScenario();
      case 'hideRefusedSwap': return await hideRefusedSwapScenario();
      case 'hideSwapAborted': return await hideSwapAbortedScenario();
      case 'leaveDuringLastStop': return await leaveDuringLastStopScenario();
      case 'stallRefusedEnd': return await stallRefusedEndScenario();
      case 'stallWake': return await stallWakeScenario();
      case 'deviceLimit': return await deviceLimitScenario();
      default: throw new Error('unknown scenario ' + sc.kind);
    }
  } catch (e) {
    return { scriptError: String(e && e.stack || e) };
  } finally {
    await Promise.all(opened.map((c) => c.close().catch(() => {})));
  }
}

(async () => {
  const browser = await chromium.connectOverCDP(process.argv[2]);
  for await (const line of readline.createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (line.trim() === '') continue;
    const { seq, scenario } = JSON.parse(line);
    const out = await play(browser, scenario);
    await new Promise((r) => process.stdout.write(JSON.stringify({ seq, out }) + '\n', r));
  }
  // No browser.close(): the Go test owns the browser process and stops it;
  // exiting drops the CDP connection.
  process.exit(0);
})().catch((e) => {
  process.stderr.write(String(e && e.stack || e) + '\n');
  process.exit(1);
});
