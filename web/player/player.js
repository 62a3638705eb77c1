// playplane player page: authorize play, get CDN credentials, play HLS with
// hls.js or DASH with dash.js with CMCD on, heartbeat with QoE, and offer
// "end this stream" when the household is at its stream limit.
//
// Plain browser JavaScript, no build step. Everything it learns is kept in
// window.playplane, which the browser test (web/browsertest) reads.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const hash = new URLSearchParams(location.hash.slice(1));

  // The API is this page's origin unless ?api= names another: the same
  // files then serve a page on a second origin that calls the API across
  // origins (CORS).
  const api = (params.get('api') || location.origin).replace(/\/+$/, '');
  const crossOrigin = new URL(api).origin !== location.origin;

  const state = {
    api, crossOrigin,
    phase: 'idle', error: null,
    account: '', title: '', format: '', cdn: '', grant: '', device: '',
    sessionID: '', startAt: 0, maxQuality: '', play: null, urls: null, edges: null,
    source: null, cmcdMode: '', pathway: '', edge: '',
    conflict: [], devices: [], ended: [],
    // Why the server ended the session (a 410's details.end_reason) and
    // what the page told the viewer of it.
    endReason: '', endNotice: '',
    startupMS: null, currentTime: 0, duration: 0,
    stalls: 0, stallMS: 0, playedMS: 0, bitrateKbps: 0,
    renewals: 0, steeringLoads: 0, steeringPriority: [],
    // The renditions the player was offered (after the plan's cap):
    // { height, bitrate, pathway } per hls.js level or dash.js
    // Representation.
    levels: [],
    cdns: [],
    // okSessions: the sessions with a heartbeat accepted, in order; the
    // last beat's says nothing of a session once the next beat is sent.
    beats: { sent: 0, ok: 0, last: null, statuses: [], okSessions: [] },
    log: [],
  };
  window.playplane = state;

  function log(msg, isError) {
    const line = new Date().toISOString().slice(11, 23) + ' ' + msg;
    state.log.push(line);
    const li = document.createElement('li');
    li.textContent = line;
    if (isError) li.className = 'error';
    $('log').prepend(li);
  }

  function fail(msg) {
    state.phase = 'error';
    state.error = msg;
    log(msg, true);
    render();
  }

  // --- API calls -----------------------------------------------------------

  // call makes one API call. 503, 429 and 500 whose answer offers a retry
  // (retryOffered: a dependency or the server at its limits, a moment's
  // failure; nothing was applied) are asked again, twice at most, after
  // Retry-After (at most 5 s; without one, a second, then two): the viewer
  // should not have to press Play again for a moment's outage. A 500 that
  // offers none is the caller's at once, as other answers are: every
  // retry would get it again.
  async function call(method, path, token, body) {
    const init = { method, headers: {} };
    if (token) init.headers.Authorization = 'Bearer ' + token;
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    for (let attempt = 0; ; attempt++) {
      const resp = await fetch(api + path, init);
      let data = null;
      try { data = await resp.json(); } catch (e) { /* empty body */ }
      const r = { status: resp.status, data, retryAfterMS: retryAfterMS(resp.headers.get('Retry-After')) };
      if (attempt >= 2 || (r.status !== 503 && r.status !== 429 && r.status !== 500) || !retryOffered(r)) return r;
      const wait = Math.min(5000, r.retryAfterMS || 1000 * 2 ** attempt);
      log(method + ' ' + path.split('?')[0] + ': ' + errText(r) + '; asking again in ' + wait + ' ms', true);
      await new Promise((done) => setTimeout(done, wait));
    }
  }

  // retryAfterMS is an answer's Retry-After header (value, null without
  // one) in ms (seconds; the API sends no HTTP date), 0 without one.
  function retryAfterMS(value) {
    return 1000 * Number(value) || 0;
  }

  // retryOffered says whether a 5xx or 429 answer is worth asking again.
  // The API offers a retry with Retry-After on each such answer a retry
  // can help (its 503s always), and leaves it off a 500 that every
  // retry gets again until an operator acts, whose message says so
  // (playback.NoRetry: response_too_large, manifest_unsupported,
  // origin_refused, sign_failed, ...). An answer without the API's error
  // envelope comes from what stands in front of it (a gateway, a load
  // balancer, Cloud Run's 429: a crashed, timed-out or throttled
  // function), which makes no such promise, and is tried again as before.
  function retryOffered(r) {
    return r.retryAfterMS > 0 || !(r.data && r.data.error);
  }

  function errText(r) {
    const e = r.data && r.data.error;
    return r.status + (e ? ' ' + e.reason + ': ' + e.message : '');
  }

  let accountToken = hash.get('token') || '';
  let tokenAccount = accountToken ? params.get('account') : '';

  // DEVELOPMENT ONLY: the local runner's /dev/token mints an account token
  // for a demo account. Real apps get the token from their sign-in.
  async function tokenFor(account) {
    if (accountToken && tokenAccount === account) return accountToken;
    const r = await call('GET', '/dev/token?account=' + encodeURIComponent(account));
    if (r.status !== 200) throw new Error('dev token for ' + account + ': ' + errText(r));
    accountToken = r.data.token;
    tokenAccount = account;
    return accountToken;
  }

  async function loadDemo() {
    let demo = { accounts: [], titles: [], cdns: [] };
    try {
      const r = await call('GET', '/dev/demo');
      if (r.status === 200) demo = r.data;
    } catch (e) {
      log('no demo catalogue from ' + api + '/dev/demo (' + e.message + '); using the URL parameters');
    }
    const fill = (sel, items, label, want) => {
      for (const it of items) {
        const o = document.createElement('option');
        o.value = it.id;
        o.textContent = label(it);
        sel.append(o);
      }
      if (want && ![...sel.options].some((o) => o.value === want)) {
        const o = document.createElement('option');
        o.value = o.textContent = want;
        sel.append(o);
      }
      if (want) sel.value = want;
    };
    fill($('account'), demo.accounts, (a) => a.id + ' (' + a.plan_id + ', ' + a.territory + ')', params.get('account') || 'acct_family');
    fill($('title'), demo.titles, (t) => t.name + ' (' + t.rating + '+)', params.get('title') || 'big-buck-bunny');
    state.cdns = demo.cdns || [];
    fill($('cdn'), state.cdns.map((c) => ({ id: c })), (c) => c.id, params.get('cdn') || '');
    $('api').value = api;
    $('api').readOnly = true;
    for (const k of ['format', 'grant', 'cmcd', 'from']) if (params.get(k)) $(k).value = params.get(k);
    $('device').value = params.get('device') || 'web-' + Math.random().toString(36).slice(2, 10);
  }

  // --- play ----------------------------------------------------------------

  let player = null; // { kind, destroy(), bitrateKbps(), throughputKbps(), pathway() }
  let playbackToken = '';
  // When playbackToken expires (ms since the epoch, the server's word).
  let tokenExpiresAt = 0;
  // When the licence window the play was admitted under ends (ms since the
  // epoch), 0 when the token expires first (licence_ends_at of the play
  // answer): nothing of the session reaches past it, and authorizing again
  // before it would be admitted under the same window; at it, the page
  // authorizes again (a window extended since admits it).
  let licenceEndsAt = 0;
  // tokenRefused: the server has answered playbackToken 401 token_expired,
  // whatever tokenExpiresAt says by the page's clock, or, while the page
  // still asks for its URLs, 403 licence_window_ended (startRefused): the
  // session takes nothing more with it but the one stop the server still
  // takes (lastStop). Kept by the page, not passed along with one
  // re-authorization: the refusal that comes while a swap is already
  // queued must reach that swap.
  let tokenRefused = false;
  // startRefused: the start heartbeat sent as the play was admitted, or
  // the URLs the page asks for then (sourceFor), were refused while the
  // page still asks for its URLs (authorizing), with an answer that
  // authorizing again cures (401 token_expired, 403
  // licence_window_ended): why, and whether it was the licence window's
  // end (swapSession's afterLicence). The page authorizes again before it
  // loads anything (authorizeBeforeLoading), as it does once it loads.
  let startRefused = null;
  let t0 = 0;
  let beatTimer = null;

  // play starts a session, one at a time: a second click (or Enter) while
  // one is starting is ignored, since two plays from one device race the
  // server's "one stream per device" replacement and the page would run
  // two players on one video element, one of them on a replaced session.
  let starting = false;
  async function play() {
    if (starting) return;
    starting = true;
    $('play').disabled = true;
    try {
      await release();
      await start();
    } finally {
      starting = false;
      $('play').disabled = false;
    }
  }

  // release ends the session the page plays before it starts another with
  // a stop heartbeat: it saves where the viewer got to (the server would
  // only mark it replaced, with the position of the last progress beat),
  // and before the first frame, without a position, it is the view's exit
  // before video start.
  async function release() {
    if (!state.sessionID || (state.phase !== 'playing' && state.phase !== 'loading')) return;
    state.phase = 'stopping';
    video.pause();
    await beat('stop');
  }

  async function start() {
    await teardown();
    Object.assign(state, {
      phase: 'authorizing', error: null, endReason: '', endNotice: '', conflict: [], devices: [], startupMS: null, stalls: 0, stallMS: 0, playedMS: 0,
      sessionID: '', startAt: 0, startedFromPlay: false, urls: null, edges: null, source: null, renewals: 0, steeringLoads: 0, steeringPriority: [], levels: [],
      account: $('account').value, title: $('title').value, format: $('format').value,
      cdn: $('cdn').value, grant: $('grant').value, device: $('device').value.trim(),
    });
    state.beats = { sent: 0, ok: 0, last: null, statuses: [], okSessions: [] };
    sessionBase = noCounters;
    startupSession = '';
    playSession = '';
    render();
    t0 = performance.now();
    try {
      const token = await tokenFor(state.account);
      // Asked beside the play: the resume position costs no round trip.
      const saved = savedPosition(token);
      const r = await authorizePlay(token);
      if (r.status === 409 && r.data && r.data.error && r.data.error.details) {
        showConflict(r.data.error);
        return;
      }
      if (r.status === 403 && r.data && r.data.error && r.data.error.reason === 'device_limit' && r.data.error.details) {
        showDeviceLimit(r.data.error);
        return;
      }
      if (r.status !== 201) {
        noticeRefusal(r);
        return fail('play: ' + errText(r));
      }
      takeSession(r.data);
      log('session ' + state.sessionID + ' admitted, plan quality ' + state.maxQuality);
      // The view begins when play is asked for (Mux Data's does): a start
      // without a position says so now, so that a page that dies before
      // its first frame without a word (a crashed tab: no pagehide, no
      // stop) still leaves its view, which times out as an exit before
      // video start. The first frame's start follows with its position.
      // Not awaited: beat() keeps it ahead of every later heartbeat.
      beat('start');

      // The start may be refused while the page asks for its URLs: a
      // refusal that ends playback ends the page there (sendBeat), and
      // one that authorizing again cures has the page authorize again
      // before it loads anything (startRefused), in a loop: the URLs asked
      // meanwhile are the refused session's. So has the URLs' own
      // refusal with such an answer (sourceFor).
      // Once: the session that took over was admitted a moment ago, and
      // a refusal of its fresh token too says the page and the server
      // disagree in a way that another play would not cure (each would
      // be refused in turn), so the page fails, saying why.
      let answer = r.data;
      let src = null;
      for (let again = 0; ; again++) {
        src = await sourceFor(answer, saved);
        // Ended meanwhile: the start refused (sendBeat, which said why),
        // a failure (sourceFor said why), or the page left (the pagehide
        // gave the session back).
        if (state.phase !== 'authorizing' || !src && !startRefused) return;
        if (!startRefused) break;
        if (again > 0) return failAndRelease(startRefused.why + ' again, in the session that took over');
        answer = await authorizeBeforeLoading();
        if (!answer) return;
      }
      state.phase = 'loading';
      log('loading ' + src.kind + ' ' + src.url.split('?')[0] + ' (' + state.grant + ', CMCD ' + state.cmcdMode + ')' +
        (state.startAt ? ' from ' + state.startAt.toFixed(2) + ' s' : ''));
      render();
      (state.format === 'dash' ? startDash : startHls)(src.url, state.startAt);
      renewBefore(state.urls.expires_at || answer.manifest_expires_at);
    } catch (err) {
      const msg = String(err && err.message || err);
      // Ended or left meanwhile, as reauthorize tells a swap's failure: a
      // 410 to the start sent as the play was admitted ended the page
      // while the play authorizing it again (authorizeBeforeLoading) was
      // on its way, and that play got no answer after. The page said why
      // and sent the ended session its stop (sendBeat), and nothing is in
      // flight: the end stands, not this error.
      if (state.sessionID && state.phase !== 'authorizing' && state.phase !== 'loading') return;
      // A request that got no answer (the network) once the play was
      // admitted: the page's session is given back, as on any failure
      // before the first frame, rather than holding its stream slot
      // until the lease lapses.
      if (state.sessionID) return failAndRelease(msg);
      fail(msg);
    }
  }

  // sourceFor asks for what the page needs to load the stream of the
  // session answer admitted (the play's, or that of the re-authorization
  // that took over): its URLs and edges, unless the play answer names
  // them, the grants of a title without a ladder, the cookies of every
  // pathway, and where it starts. It returns the source to load, or
  // nothing once the page failed (it said why) or no longer authorizes
  // that session, or the start or the URLs were refused so that the page
  // authorizes again (startRefused): the rest, which would name the
  // session refused or ended, is then not asked for, and a failure it
  // would meet is not the page's (the URLs of a session ended elsewhere
  // are answered 410).
  async function sourceFor(answer, saved) {
    const id = state.sessionID;
    const current = () => state.phase === 'authorizing' && state.sessionID === id && !startRefused;
    if (oneCall(answer)) {
      // The play answer names the personalized manifests and the
      // steering server: no other API call before the manifest.
      state.urls = { manifest_url: answer.manifest_url, manifests: answer.manifests, steering_uri: answer.steering_uri, cdn: '' };
      state.startedFromPlay = true;
      log('starting from the play answer alone (manifests until ' + answer.manifest_expires_at + ')');
    } else {
      const u = await urls();
      if (!current()) return null;
      if (tokenExpired(u) || licenceEnded(u)) {
        // Refused as the start heartbeat may be (sendBeat): start()
        // authorizes again before it loads (startRefused), and the
        // session refused is sent nothing more (tokenRefused).
        log('urls: ' + errText(u), true);
        tokenRefused = true;
        startRefused = { why: 'urls: ' + (tokenExpired(u) ? 'playback token expired' : 'the licence window ended'), afterLicence: licenceEnded(u) };
        return null;
      }
      if (u.status !== 200) {
        await failAndRelease('urls: ' + errText(u));
        return null;
      }
      state.urls = u.data;
      const e = await call('POST', '/v1/playback/' + id + '/edges', playbackToken, {});
      if (e.status === 200) {
        state.edges = e.data;
        state.edge = (e.data.edges && e.data.edges[0] && e.data.edges[0].id) || '';
      } else {
        log('edges: ' + errText(e) + ' (playing without an edge ranking)');
      }
    }
    if (!current()) return null;
    const src = chooseSource(state.urls, state.format, state.grant);
    if (!src) {
      state.noManifest = true;
      await failAndRelease('no ' + state.format.toUpperCase() + ' manifest in the urls response (manifests.' + state.format + ' missing)');
      return null;
    }
    state.source = src;
    // The master playlist's relative URIs resolve without its query:
    // regrant puts the prefix grant on them (a title without a ladder).
    if (src.kind === 'manifest_url') await learnGrants(state.urls, id);
    if (state.grant === 'cookies') {
      applyCookies(state.urls.cookies || []);
      await otherPathwayCookies();
    }
    state.cmcdMode = cmcdMode();
    state.pathway = state.urls.cdn || '';
    state.startAt = await saved;
    return current() ? src : null;
  }

  // authorizePlay asks to play the page's title on its device (POST
  // /v1/play): a new session, or, for a device that plays already, its
  // replacement in the same step (no second stream slot). A
  // re-authorization names the session it replaces (replaces): the server
  // then refuses it 410 if the account ended that session meanwhile, so
  // that "End this stream" on another screen, or the device's removal,
  // is not undone by the page playing on in a new session.
  function authorizePlay(token, replaces) {
    const body = { title_id: state.title, device_id: state.device, device_name: 'playplane web player' };
    if (replaces) body.replaces_session_id = replaces;
    return call('POST', '/v1/play', token, body);
  }

  // reauthorizePlay authorizes the play again in place of session before
  // (swapSession, authorizeBeforeLoading), naming before as reauthorizing
  // until the answer, which a page left meanwhile gives back (pagehide).
  async function reauthorizePlay(before) {
    reauthorizing = before;
    try {
      return await authorizePlay(await tokenFor(state.account), before);
    } finally {
      reauthorizing = '';
    }
  }

  // takeSession makes the play answer's session the page's: heartbeats,
  // grant renewals and the re-authorization ahead of its token's expiry
  // are its from now on.
  function takeSession(answer) {
    state.play = answer;
    state.sessionID = answer.session_id;
    if (!playSession) playSession = answer.session_id;
    state.maxQuality = answer.max_quality;
    leaseUntil = Date.parse(answer.lease_expires_at) || 0;
    beatFailures = 0;
    playbackToken = answer.playback_token;
    tokenExpiresAt = Date.parse(answer.token_expires_at) || 0;
    licenceEndsAt = Date.parse(answer.licence_ends_at) || 0;
    tokenRefused = false;
    startRefused = null;
    reauthorizeBefore(answer.token_expires_at);
    holdAtLicenceEnd();
  }

  // At the licence window's end the grants and the manifest credential
  // end, and the page cannot yet know whether it plays on (the window
  // may have been extended since the play: the heartbeat just past the
  // end asks, and its 403 licence_window_ended sends the page to
  // authorize again). From a moment before the end by the page's clock,
  // the players' requests wait, so that none fails on the ended grants
  // (hls.js and dash.js give up on a 403) while playback may go on: until
  // the re-authorization has played on or ended playback, or, when the
  // server still says the window runs (a page clock ahead of the
  // server's), at most licenceHoldMax. The players play on from what
  // they buffered meanwhile.
  const licenceHoldAhead = 500;
  const licenceBeatLate = 250;
  const licenceHoldMax = 5000;
  let licenceTimer = null;
  let licenceHold = null;
  function holdAtLicenceEnd() {
    clearTimeout(licenceTimer);
    releaseLicenceHold();
    if (!licenceEndsAt) return;
    // The timer is the page's session's: takeSession and teardown clear
    // it. A page left meanwhile (pagehide) no longer plays.
    licenceTimer = setTimeout(() => {
      if (state.phase !== 'playing' && state.phase !== 'loading') return;
      licenceHold = hold();
      licenceTimer = setTimeout(releaseLicenceHold, licenceHoldAhead + licenceHoldMax);
    }, Math.max(0, licenceEndsAt - licenceHoldAhead - Date.now()));
  }

  function releaseLicenceHold() {
    if (!licenceHold) return;
    const release = licenceHold;
    licenceHold = null;
    release();
  }

  // savedPosition is where the player starts, in seconds: where the viewer
  // left off on the title (GET /v1/progress, whichever device saved it),
  // or 0 when the viewer chose to start from the beginning, never played
  // it, or had reached the credits (the server's completed: apps offer to
  // start over) or the position cannot be read.
  async function savedPosition(token) {
    if ($('from').value === 'beginning') return 0;
    try {
      const r = await call('GET', '/v1/progress?title_id=' + encodeURIComponent(state.title), token);
      if (r.status === 404) return 0;
      if (r.status !== 200) throw new Error(errText(r));
      if (r.data.completed) {
        log('watched to the end last time: from the beginning');
        return 0;
      }
      return r.data.position_ms / 1000;
    } catch (err) {
      log('resume position: ' + err.message + ' (from the beginning)', true);
      return 0;
    }
  }

  // oneCall: with ?start=play the page plays from the play answer when it
  // names the manifest of the chosen format and nothing asks for more
  // (no CDN chosen: the manifests start on the default one; query grants:
  // cookies need the urls answer).
  function oneCall(answer) {
    return params.get('start') === 'play' && !state.cdn && state.grant !== 'cookies' &&
      !!(answer.manifests && answer.manifests[state.format]);
  }

  // urls asks for the CDN grant. With signed cookies it asks for
  // personalized manifests without signatures in their URIs (grant
  // "cookie"); an API without personalized manifests refuses the field
  // (unknown_field), and then the cookies cover the title's whole folder.
  async function urls() {
    const body = {};
    if (state.cdn) body.cdn = state.cdn;
    if (state.grant === 'cookies') body.grant = 'cookie';
    const path = '/v1/playback/' + state.sessionID + '/urls';
    let r = await call('POST', path, playbackToken, body);
    if (r.status === 400 && body.grant && r.data && r.data.error && r.data.error.reason === 'unknown_field') {
      delete body.grant;
      r = await call('POST', path, playbackToken, body);
    }
    return r;
  }

  // otherPathwayCookies: with cookie grants, the manifests name every
  // pathway without a signature, and content steering may move the player
  // to any of them; the cookies of one CDN open only that CDN. So the page
  // asks urls once more for each other CDN it knows of (the runner's
  // /dev/demo lists them; an app would know its CDNs from its config) and
  // keeps their cookies too. CloudFront's and Cloud CDN's cookies have
  // different names, so they coexist.
  async function otherPathwayCookies() {
    const first = state.urls.cdn;
    for (const cdn of state.cdns) {
      if (cdn === first) continue;
      const r = await call('POST', '/v1/playback/' + state.sessionID + '/urls', playbackToken, { cdn, grant: 'cookie' });
      if (r.status !== 200) {
        log('cookies for pathway ' + cdn + ': ' + errText(r) + ' (steering there will fail)', true);
        continue;
      }
      applyCookies(r.data.cookies || []);
      log('cookies for pathway ' + cdn + ' too');
    }
  }

  // failAndRelease gives the stream slot back when playback cannot start,
  // rather than holding it until the lease lapses. Before the first frame
  // an error heartbeat goes first: the view's playback failure, which the
  // DELETE would not tell the QoE views. The session given back is the
  // one that failed: the page in error takes Play again while the error
  // heartbeat is in flight, and the play it admits meanwhile is the
  // page's session by the time that heartbeat is answered.
  async function failAndRelease(msg) {
    const id = state.sessionID;
    fail(msg);
    releasing = id;
    try {
      if (state.startupMS === null) await beat('error');
      await giveBack(id);
    } finally {
      if (releasing === id) releasing = '';
    }
  }
  // releasing is the session failAndRelease has yet to give back: a page
  // left meanwhile (the viewer closes the tab on the error while the
  // error heartbeat is on its way) never hears that heartbeat's answer,
  // so the pagehide gives the session back itself.
  let releasing = '';

  // giveBack ends session id (the page's unless named) with the account
  // token (DELETE, as "end this stream" does), freeing its stream slot
  // now.
  async function giveBack(id = state.sessionID) {
    if (!id || givenBack.has(id)) return;
    try {
      const r = await call('DELETE', '/v1/sessions/' + id, accountToken);
      log('released session ' + id + ': ' + r.status);
    } catch (e) { /* the lease lapses anyway */ }
  }

  // chooseSource prefers the personalized manifests (absolute URIs that
  // carry each pathway's grant, steering inside) and falls back to the
  // title's stored master playlist at the CDN.
  function chooseSource(urls, format, grant) {
    if (urls.manifests && urls.manifests[format]) return { kind: 'manifests.' + format, url: urls.manifests[format] };
    if (format !== 'hls' || !urls.manifest_url) return null;
    const u = new URL(urls.manifest_url);
    if (grant === 'cookies') {
      u.search = '';
    } else if (urls.query_params) {
      // The prefix grant, not manifest_url's own exact-URL signature:
      // CloudFront's canned policy covers the URL with its query, so the
      // CMCD parameter the player adds would void it.
      u.search = '?' + urls.query_params;
    }
    return { kind: 'manifest_url', url: u.toString() };
  }

  // applyCookies sets the grant's cookies for the CDN. On the API's own
  // origin the urls response's Set-Cookie already did; a page on another
  // origin gets no cookies from a cross-origin fetch (the API never allows
  // credentials), so it sets them itself from the JSON (they reach the CDN
  // when it shares the cookie's host or Domain).
  function applyCookies(cookies) {
    if (!crossOrigin) return;
    for (const c of cookies) {
      let s = c.name + '=' + c.value + '; Path=' + c.path + '; Expires=' + new Date(c.expires).toUTCString();
      if (c.domain) s += '; Domain=' + c.domain;
      s += c.secure ? '; Secure; SameSite=None' : '; SameSite=Lax';
      document.cookie = s;
    }
  }

  // cmcdMode: query parameters by default. Headers would make every
  // cross-origin segment request preflighted, and a CDN refuses the
  // preflight of a Cloud CDN signed URL (signed requests are GET or HEAD
  // only); cmcdFirst keeps query mode compatible with that signature.
  function cmcdMode() {
    const want = $('cmcd').value;
    return want === 'auto' ? 'query' : want;
  }

  // cmcdFirst undoes what adding the CMCD parameter does to a Cloud CDN
  // signed URL. The players append CMCD last and re-serialize the query,
  // escaping the '=' padding of URLPrefix as %3D; but the signature must be
  // the last parameter and covers URLPrefix=..&Expires=..&KeyName=.. byte
  // for byte. So CMCD moves to the front (parameters before the signing
  // ones are the viewer's own; a URL prefix grant still covers them) and
  // the signing parameters get back the bytes the grant was issued with.
  // Other URLs are returned unchanged.
  function cmcdFirst(raw) {
    const q = raw.indexOf('?');
    if (q < 0) return raw;
    let params = raw.slice(q + 1).split('&');
    if (!params.some((p) => p.startsWith('KeyName=')) || !params.some((p) => p.startsWith('Signature='))) return raw;
    const signing = /^(URLPrefix|Expires|KeyName|Signature)=/;
    params = params.map((p) => (signing.test(p) ? p.replace(/%3D/gi, '=') : p));
    const i = params.findIndex((p) => p.startsWith('CMCD='));
    if (i > 0) params.unshift(params.splice(i, 1)[0]);
    return raw.slice(0, q + 1) + params.join('&');
  }

  // toCDN tells CDN requests (which may need the grant's cookies) from the
  // API's (manifests, steering), which never take credentials: the API
  // allows no credentialed cross-origin calls.
  function toCDN(url) {
    return !(url.startsWith(api + '/v1/') || url.startsWith(api + '/dev/'));
  }

  // --- grant renewal -------------------------------------------------------

  // The CDN grants and the manifest credential live no longer than the
  // lease (plus SIGNURL_GRACE, at most SIGNURL_MAX_TTL), and players must
  // renew them before expires_at (functions/signurl, docs/manifests.md).
  // hls.js and dash.js keep the URLs they loaded (a VOD playlist is loaded
  // once), so the page asks urls again halfway to the expiry, learns the
  // new credential and each rendition folder's new signature from the
  // fresh manifests, and regrant puts them on every request the players
  // make from then on. Cookie grants are renewed as cookies.
  let renewTimer = null;
  // token: the newest manifest credential; folders: URL prefix of a
  // rendition folder → its newest signature query.
  let grants = { token: '', folders: new Map() };

  function renewBefore(expiresAt) {
    clearTimeout(renewTimer);
    // Grants that end with the licence are the last: a renewal would
    // only get ever shorter ones.
    if (licenceEndsAt && Date.parse(expiresAt) >= licenceEndsAt - 1000) return;
    const left = Date.parse(expiresAt) - Date.now();
    // Signatures and cookies expire on whole seconds (Expires is Unix
    // seconds, a cookie's date too): up to a second before expires_at.
    if (left > 0) renewTimer = setTimeout(renewGrants, Math.max(500, (left - 1000) / 2));
  }

  // renewing is the renewal in flight: a re-authorization waits for it,
  // since what it fetches names the session being replaced.
  let renewing = null;
  // renewed is the last renewal's session and answer status.
  let renewed = { id: '', status: 0 };
  function renewGrants() {
    if (!renewing) renewing = renewOnce().finally(() => { renewing = null; });
    return renewing;
  }

  async function renewOnce() {
    const id = state.sessionID;
    if (!id || (state.phase !== 'playing' && state.phase !== 'loading')) return;
    let r;
    try {
      r = await urls();
      if (r.status === 200) {
        if (state.grant === 'cookies') {
          applyCookies(r.data.cookies || []);
          await otherPathwayCookies();
        }
        await learnGrants(r.data, id);
      }
    } catch (err) {
      r = { status: 0, data: null };
      log('renewing the grants: ' + err.message, true);
    }
    renewed = { id, status: r.status };
    // Another session's now, or playback ended meanwhile: nothing to
    // renew again.
    if (id !== state.sessionID || (state.phase !== 'playing' && state.phase !== 'loading')) return;
    if (tokenExpired(r)) {
      // Not awaited: the re-authorization waits for this renewal to end.
      reauthorizeRefused('renewing the grants: playback token expired');
      return;
    }
    if (r.status !== 200) {
      // No answer, or a 5xx that offers a retry (retryable), is tried
      // again while the old grants still hold; a 4xx, or a 500 that
      // offers none (sign_failed, client_ip_unknown), would be answered
      // the same (410: the heartbeat stops playback), and playback then
      // ends when the grants do.
      log('renewing the grants: ' + errText(r), true);
      if (retryable(r)) renewTimer = setTimeout(renewGrants, 1000);
      return;
    }
    state.renewals++;
    log('grants renewed until ' + r.data.expires_at);
    renewBefore(r.data.expires_at);
  }

  // learnGrants reads the new credential off the urls answer of session id
  // and, for query grants, each folder's new signature off the fresh
  // manifests. They are the players' only while id is the page's session:
  // a renewal answered after a re-authorization replaced it is dropped.
  async function learnGrants(answer, id) {
    const folders = new Map();
    const m = answer.manifests && answer.manifests[state.format];
    if (!m) {
      // A title without a ladder: one query for the title's folder.
      if (answer.query_params && answer.manifest_url) folders.set(folderOf(answer.manifest_url), answer.query_params);
      if (id === state.sessionID) grants = { token: '', folders, session: id };
      return;
    }
    if (state.grant !== 'cookies') {
      const text = await fetchText(m);
      if (state.format === 'dash') dashFolders(text, m, folders);
      else await hlsFolders(text, m, folders);
    }
    if (id === state.sessionID) grants = { token: new URL(m).searchParams.get('token') || '', folders, session: id };
  }

  async function fetchText(url) {
    const r = await fetch(url);
    if (!r.ok) throw new Error('GET ' + url.split('?')[0] + ': ' + r.status);
    return r.text();
  }

  function folderOf(url) {
    const u = url.split('?')[0];
    return u.slice(0, u.lastIndexOf('/') + 1);
  }

  // learnFolder records the signature query of uri (relative to base) for
  // its folder: every URI of a folder carries the same one.
  function learnFolder(uri, base, folders) {
    const q = uri.indexOf('?');
    if (q < 0) return;
    folders.set(folderOf(new URL(uri.slice(0, q), base).href), uri.slice(q + 1));
  }

  // hlsFolders: a media playlist per variant (every pathway and rendition),
  // one URI of each.
  async function hlsFolders(text, base, folders) {
    const variants = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    await Promise.all(variants.map(async (v) => {
      const url = new URL(v, base).href;
      for (const line of (await fetchText(url)).split('\n')) {
        const map = /^#EXT-X-MAP:.*URI="([^"]+)"/.exec(line.trim());
        const uri = map ? map[1] : line.trim();
        if (!uri || uri.startsWith('#')) continue;
        learnFolder(uri, url, folders);
        return;
      }
    }));
  }

  // dashFolders: a query-grant MPD serves one pathway (its BaseURL) and
  // gives each Representation a SegmentTemplate carrying its folder's query.
  function dashFolders(text, base, folders) {
    const doc = new DOMParser().parseFromString(text, 'application/xml');
    const baseURL = doc.getElementsByTagName('BaseURL')[0];
    const root = new URL(baseURL ? baseURL.textContent.trim() : '', base).href;
    for (const t of doc.getElementsByTagName('SegmentTemplate')) {
      const rep = t.parentElement && t.parentElement.tagName === 'Representation' ? t.parentElement.getAttribute('id') : '';
      const media = t.getAttribute('media') || '';
      if (!rep || !media.includes('?')) continue;
      // $$ is a literal $; the other identifiers do not change the folder
      // but $RepresentationID$.
      const uri = media.replace(/\$RepresentationID\$/g, rep).replace(/\$(Number|Time|Bandwidth|SubNumber)(%0\d+d)?\$/g, '1').replace(/\$\$/g, '$');
      learnFolder(uri, root, folders);
    }
  }

  // regrant puts the newest credentials on a URL a player is about to
  // fetch: the manifest credential on the API's manifest and steering
  // routes, with the session it is for (after a re-authorization the
  // players still hold the first session's URLs, which the server answers
  // 410 once that session is replaced), a folder's newest signature on its
  // segments (replacing the parameters it names, after the others, such
  // as CMCD: Cloud CDN's Signature must stay last).
  // The gate is closed while something holds it (hold): a
  // re-authorization replacing the page's session, from its POST /v1/play
  // until the new session's grants are learnt, since a request sent
  // meanwhile would name the session being replaced, which the server
  // answers 410; and the licence window's end (holdAtLicenceEnd), while
  // the grants and the manifest credential end with it and the page learns
  // whether a re-authorization plays on. The players' requests wait for it
  // (afterSwap).
  let gate = null;
  let openGate = null;
  let gateHolds = 0;
  function afterSwap(fn) {
    return gate ? gate.then(fn) : fn();
  }

  // hold closes the gate until the function it returns is called, once
  // (replaceSession's finally; releaseLicenceHold drops it before the
  // call).
  function hold() {
    if (!gate) gate = new Promise((resolve) => { openGate = resolve; });
    gateHolds++;
    return () => {
      if (--gateHolds > 0) return;
      const open = openGate;
      gate = openGate = null;
      open();
    };
  }

  function regrant(raw) {
    const q = raw.indexOf('?');
    let path = q < 0 ? raw : raw.slice(0, q);
    let params = q < 0 ? [] : raw.slice(q + 1).split('&');
    if (path.startsWith(api + '/v1/')) {
      if (!grants.token || q < 0) return raw;
      path = api + path.slice(api.length).replace(/^\/v1\/(manifests|steering)\/[^/]+/, '/v1/$1/' + encodeURIComponent(grants.session));
      params = params.map((p) => (p.startsWith('token=') ? 'token=' + grants.token : p));
      return path + '?' + params.join('&');
    }
    let fresh = '';
    for (const [folder, query] of grants.folders) {
      if (path.startsWith(folder) && folder.length > fresh.length) fresh = query;
    }
    if (!fresh) return raw;
    const names = new Set(fresh.split('&').map((p) => p.split('=')[0]));
    return path + '?' + params.filter((p) => !names.has(p.split('=')[0])).concat(fresh).join('&');
  }

  // bufferAhead (?buffer=<seconds>) caps how far ahead the players buffer.
  // Unset, they keep their defaults (tens of seconds, the whole test
  // stream); the browser test sets it so that segments are still being
  // fetched while it steers the player to another pathway.
  const bufferAhead = Number(params.get('buffer')) || 0;

  // hls.js loads the master playlist again after a 5xx (its manifest load
  // policy: once), and a media playlist or the steering manifest as its
  // playlist and steering policies say, whatever the answer says. The
  // page's rule for the API's answers (retryOffered) holds there too,
  // through the policies' shouldRetry: a 500 that offers no retry (no
  // Retry-After, the API's envelope: playback.NoRetry) is not asked again.
  // shouldRetry is handed the status and the URL hls.js asked for, not the
  // answer's headers or body: watchAnswer keeps those of the last 5xx a
  // request of hls.js got (hlsAnswer), which hls.js reads in its own
  // readystatechange handler, set after xhrSetup's, in the same event.
  let hlsAnswer = null;
  function watchAnswer(xhr, url) {
    xhr.addEventListener('readystatechange', () => {
      if (xhr.readyState !== 4) return;
      hlsAnswer = null;
      if (xhr.status < 500) return;
      let data = null;
      try {
        data = xhr.responseType === 'json' ? xhr.response : JSON.parse(xhr.responseText);
      } catch (e) { /* no envelope: a gateway's answer */ }
      hlsAnswer = { url, status: xhr.status, data, retryAfterMS: retryAfterMS(xhr.getResponseHeader('Retry-After')) };
    });
  }

  // hlsShouldRetry only takes retries away: hls.js's own rule (4xx, 429
  // included, are not asked again) and its counts stand.
  function hlsShouldRetry(retryConfig, retryCount, isTimeout, response, retry) {
    const a = hlsAnswer;
    if (isTimeout || !response || !a || a.url !== response.url || a.status !== response.code) return retry;
    return retry && retryOffered(a);
  }

  // apiRetries is hls.js's load policy with the page's rule on its error
  // retries.
  function apiRetries(policy) {
    const d = policy.default;
    return { default: Object.assign({}, d, { errorRetry: d.errorRetry && Object.assign({}, d.errorRetry, { shouldRetry: hlsShouldRetry }) }) };
  }

  // startHls and startDash start the player at the position at (seconds,
  // 0: the beginning).
  function startHls(url, at) {
    if (!window.Hls || !Hls.isSupported()) return failAndRelease('hls.js cannot play here (no MediaSource)');
    const withCreds = state.grant === 'cookies';
    const defaults = Hls.DefaultConfig;
    const cfg = {
      enableWorker: true,
      // hls.js opens the request itself unless this does.
      // hls.js waits for a promise it returns (afterSwap).
      xhrSetup: (xhr, u) => afterSwap(() => {
        xhr.open('GET', cmcdFirst(regrant(u)), true);
        if (withCreds && toCDN(u)) xhr.withCredentials = true;
        watchAnswer(xhr, u);
      }),
      manifestLoadPolicy: apiRetries(defaults.manifestLoadPolicy),
      playlistLoadPolicy: apiRetries(defaults.playlistLoadPolicy),
      steeringManifestLoadPolicy: apiRetries(defaults.steeringManifestLoadPolicy),
    };
    if (bufferAhead) Object.assign(cfg, { maxBufferLength: bufferAhead, maxMaxBufferLength: bufferAhead });
    if (at) cfg.startPosition = at;
    if (state.cmcdMode !== 'off') {
      cfg.cmcd = { sessionId: state.sessionID, contentId: state.title, useHeaders: state.cmcdMode === 'header' };
    }
    const hls = new Hls(cfg);
    hls.on(Hls.Events.ERROR, (_, d) => {
      log('hls.js ' + (d.fatal ? 'fatal ' : '') + d.type + ' ' + d.details + (d.response ? ' ' + d.response.code : ''), d.fatal);
      if (d.fatal) playerFailed('hls.js ' + d.details);
    });
    hls.on(Hls.Events.STEERING_MANIFEST_LOADED, (_, d) => {
      state.steeringLoads++;
      state.steeringPriority = (d.steeringManifest && d.steeringManifest['PATHWAY-PRIORITY']) || [];
      log('steering manifest loaded from ' + String(d.url).split('?')[0]);
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, () => render());
    // hls.levels holds the levels of the pathway in use.
    const levels = () => {
      state.levels = (hls.levels || []).map((l) => ({ height: l.height, bitrate: l.bitrate, pathway: l.pathwayId || '' }));
    };
    hls.on(Hls.Events.LEVELS_UPDATED, levels);
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      levels();
      video.play().catch((err) => log('autoplay refused: ' + err.message + ' (press play)', true));
    });
    player = {
      kind: 'hls',
      destroy: () => hls.destroy(),
      bitrateKbps: () => {
        const l = hls.levels && hls.levels[hls.currentLevel];
        return l ? Math.round(l.bitrate / 1000) : 0;
      },
      throughputKbps: () => Math.round((hls.bandwidthEstimate || 0) / 1000),
      // The pathway of the level playing (PATHWAY-ID; "." when the
      // playlist names none).
      pathway: () => {
        const l = hls.levels && hls.levels[hls.currentLevel];
        return l && l.pathwayId && l.pathwayId !== '.' ? l.pathwayId : '';
      },
    };
    hls.loadSource(url);
    hls.attachMedia($('video'));
  }

  // dash.js asks an MPD again after any answer but a 2xx (3 times, 500 ms
  // apart: streaming.retryAttempts and retryIntervals), and has no hook
  // that sees the answer before it decides: its response interceptors run
  // first but cannot stop the retry. The page's rule (retryOffered) does
  // not reach there.
  function startDash(url, at) {
    if (!window.dashjs) return failAndRelease('dash.js is not loaded');
    const dp = dashjs.MediaPlayer().create();
    const buffer = bufferAhead ? { bufferTimeDefault: bufferAhead, bufferTimeAtTopQuality: bufferAhead, bufferTimeAtTopQualityLongForm: bufferAhead } : {};
    dp.updateSettings({
      streaming: {
        buffer,
        cmcd: { enabled: state.cmcdMode !== 'off', sid: state.sessionID, cid: state.title, mode: state.cmcdMode === 'header' ? 'header' : 'query' },
      },
    });
    const withCreds = state.grant === 'cookies';
    // Runs after dash.js added CMCD to the URL.
    dp.addRequestInterceptor((req) => Promise.resolve(afterSwap(() => {
      req.url = cmcdFirst(regrant(req.url));
      if (withCreds) req.credentials = toCDN(req.url) ? 'include' : 'omit';
      return req;
    })));
    dp.on(dashjs.MediaPlayer.events.ERROR, (e) => {
      const msg = e && e.error ? (e.error.code + ' ' + e.error.message) : 'error';
      log('dash.js ' + msg, true);
      playerFailed('dash.js ' + msg);
    });
    dp.on(dashjs.MediaPlayer.events.STREAM_INITIALIZED, () => {
      state.levels = (dp.getRepresentationsByType('video') || []).map((r) => ({ height: r.height, bitrate: r.bandwidth, pathway: '' }));
    });
    dp.on('contentSteeringRequestCompleted', () => {
      state.steeringLoads++;
      const s = dp.getCurrentSteeringResponseData && dp.getCurrentSteeringResponseData();
      state.steeringPriority = (s && s.pathwayPriority) || [];
      log('steering manifest loaded');
    });
    // The pathway in use is the service location of the BaseURL the last
    // video segment came from (the steering answer is only a wish).
    let lastLocation = '';
    dp.on(dashjs.MediaPlayer.events.FRAGMENT_LOADING_COMPLETED, (e) => {
      const r = e && e.request;
      if (r && r.mediaType === 'video' && r.serviceLocation && !/^[a-z]+:/.test(r.serviceLocation) && r.serviceLocation !== lastLocation) {
        lastLocation = r.serviceLocation;
        render(); // the page's state follows the segment, not the next heartbeat
      }
    });
    player = {
      kind: 'dash',
      destroy: () => dp.destroy(),
      bitrateKbps: () => {
        const r = dp.getCurrentRepresentationForType && dp.getCurrentRepresentationForType('video');
        return r ? Math.round(r.bandwidth / 1000) : 0;
      },
      throughputKbps: () => Math.round(dp.getAverageThroughput ? dp.getAverageThroughput('video') || 0 : 0),
      pathway: () => {
        if (lastLocation) return lastLocation;
        const s = dp.getCurrentSteeringResponseData && dp.getCurrentSteeringResponseData();
        return (s && s.pathwayPriority && s.pathwayPriority[0]) || '';
      },
    };
    dp.initialize($('video'), url, true, at || NaN);
  }

  // playerFailed reports a fatal player error with an error heartbeat; one
  // before the first frame carries no position and gives the stream slot
  // back too (failAndRelease).
  function playerFailed(msg) {
    if (state.phase === 'error') return;
    // Once the viewer stopped, the session is over on the server: a
    // steering or segment request the player had in flight fails (410),
    // which is the end the viewer asked for, not a playback failure.
    if (state.phase === 'stopping' || state.phase === 'stopped' || state.phase === 'ended') {
      log('after stop: ' + msg);
      return;
    }
    if (state.startupMS === null) return failAndRelease(msg);
    beat('error');
    fail(msg);
  }

  // --- conflict: the 409 list ------------------------------------------------

  function showConflict(err) {
    state.phase = 'conflict';
    state.conflict = (err.details && err.details.sessions) || [];
    log('409 ' + err.reason + ': ' + state.conflict.length + ' stream(s) playing, limit ' + (err.details && err.details.limit));
    showChoices('Too many streams', err.message + '. End one to play here:', state.conflict.map((c) => ({
      text: c.title_id + ' on ' + (c.device_name || c.device_id) + ' (started ' + new Date(c.started_at).toLocaleTimeString() +
        ', last seen ' + (c.last_seen_at ? new Date(c.last_seen_at).toLocaleTimeString() : '?') + ')',
      button: 'End this stream', data: { end: c.session_id }, act: () => endStream(c.session_id),
    })));
  }

  // showChoices fills the box the 409 and the 403 device limit share: a
  // title, a line, and an item per choice with the button that acts on it.
  function showChoices(title, text, items) {
    const ul = $('conflict-list');
    ul.textContent = '';
    $('conflict-title').textContent = title;
    $('conflict-text').textContent = text;
    for (const it of items) {
      const li = document.createElement('li');
      li.textContent = it.text + ' ';
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = it.button;
      Object.assign(b.dataset, it.data);
      b.onclick = it.act;
      li.append(b);
      ul.append(li);
    }
    render();
  }

  async function endStream(id) {
    const r = await call('DELETE', '/v1/sessions/' + id, accountToken);
    if (r.status !== 200) return fail('end stream ' + id + ': ' + errText(r));
    state.ended.push(id);
    log('ended stream ' + id + ' (' + r.data.end_reason + '); playing here');
    await play();
  }

  // --- device limit: the 403 list of registered devices --------------------

  // A new device at the plan's device limit: the devices holding the slots,
  // each with when it last played (to within a day), so the viewer can
  // tell a stale one and remove it to play here.
  function showDeviceLimit(err) {
    state.phase = 'device_limit';
    state.devices = err.details.devices || [];
    log('403 ' + err.reason + ': ' + state.devices.length + ' device(s) registered, limit ' + err.details.max_devices);
    showChoices('Too many devices', err.message + ':', state.devices.map((d) => ({
      text: (d.name || d.device_id) + ' (added ' + new Date(d.registered_at).toLocaleDateString() + ', last played ' +
        (d.last_played_at ? new Date(d.last_played_at).toLocaleString() : 'not recorded') + (d.playing ? ', playing now' : '') + ')',
      button: 'Remove this device', data: { remove: d.device_id }, act: () => removeDevice(d.device_id),
    })));
  }

  async function removeDevice(id) {
    const r = await call('DELETE', '/v1/devices/' + encodeURIComponent(id), accountToken);
    // 404: already gone (removed elsewhere), which frees the slot all the same.
    if (r.status !== 200 && r.status !== 404) return fail('remove device ' + id + ': ' + errText(r));
    log('removed device ' + id + '; playing here');
    await play();
  }

  // --- QoE and heartbeats --------------------------------------------------

  const video = $('video');
  let stallStart = 0;
  // Play time is wall-clock time spent playing (not paused, not stalled):
  // summing currentTime steps would lose time whenever timeupdate comes
  // late, and count seeks.
  let playingSince = 0;
  function stopPlayClock() {
    if (playingSince) state.playedMS += performance.now() - playingSince;
    playingSince = 0;
  }

  // A stall lasts until playback goes on, or until the viewer pauses: a
  // paused viewer is not waiting for video (CMCD tells paused, sta=a, from
  // rebuffering, sta=r), however long the pause.
  function stopStallClock() {
    if (stallStart) state.stallMS += performance.now() - stallStart;
    stallStart = 0;
  }

  video.addEventListener('playing', () => {
    stopStallClock();
    if (!playingSince) playingSince = performance.now();
    render();
  });
  video.addEventListener('waiting', () => {
    stopPlayClock();
    // A stall is waiting after the first frame, not a seek.
    if (state.startupMS !== null && !video.seeking && !stallStart) {
      stallStart = performance.now();
      state.stalls++;
      log('stall ' + state.stalls + ' at ' + video.currentTime.toFixed(2) + 's');
    }
  });
  video.addEventListener('timeupdate', () => {
    const t = video.currentTime;
    state.currentTime = t;
    state.duration = isFinite(video.duration) ? video.duration : 0;
    if (state.startupMS === null && t > 0) firstFrame();
    renderPosition();
  });
  video.addEventListener('pause', () => {
    stopPlayClock();
    stopStallClock();
    if (state.phase === 'playing' && !video.ended) beat('pause');
  });
  video.addEventListener('ended', () => { if (state.phase === 'playing') stop(); });
  // requestVideoFrameCallback tells when the first frame was presented,
  // which is what startup time means; timeupdate is the fallback.
  function watchFirstFrame() {
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(() => firstFrame());
  }

  function firstFrame() {
    if (state.startupMS !== null || !state.sessionID) return;
    // Starting further on, a player may show the frame at 0 before it
    // seeks there (hls.js seeks once it has buffered): the start is the
    // frame after the seek.
    if (state.startAt && video.currentTime === 0) return watchFirstFrame();
    state.startupMS = Math.round(performance.now() - t0);
    startupSession = state.sessionID;
    state.phase = 'playing';
    $('stop').disabled = false;
    log('first frame after ' + state.startupMS + ' ms');
    beat('start');
    render();
  }

  // stoppedCounters stops the play and stall clocks (as a teardown does)
  // and returns the counters where they stop: what a final stop tells.
  function stoppedCounters() {
    stopPlayClock();
    stopStallClock();
    return counters();
  }

  // counters are the page's running totals since its play began.
  function counters() {
    const now = performance.now();
    const vq = video.getVideoPlaybackQuality && video.getVideoPlaybackQuality();
    return {
      stalls: state.stalls,
      stallMS: state.stallMS + (stallStart ? now - stallStart : 0),
      playedMS: state.playedMS + (playingSince ? now - playingSince : 0),
      df: vq ? vq.droppedVideoFrames : 0,
    };
  }
  // sessionBase is what counters() said when the page's session began: a
  // heartbeat's counters are its session's (the server holds a view's
  // play to its session's age), so a session that replaced another while
  // playing (reauthorize) counts from where the one replaced last told
  // its counters, a stall there included (swapSession).
  const noCounters = { stalls: 0, stallMS: 0, playedMS: 0, df: 0 };
  let sessionBase = noCounters;
  // startupSession is the session the play's first frame came in: only
  // its heartbeats tell the startup time. A session that replaced it
  // while playing (reauthorize) goes on in the same play, with no first
  // frame of its own; told again there, one play's startup would count
  // once per session in the startup figures. It says it continues a play
  // that started instead (qoe.continued): taking over paused or stalled
  // and stopped before it played, its view would otherwise count as an
  // exit before video start.
  let startupSession = '';
  // playSession is the session the page's play began in. Every session
  // that replaced another in the same play (reauthorize) names it
  // (qoe.view), before its first frame too: the server counts the play as
  // one view (a playback attempt, as Mux Data counts them), not one per
  // session.
  let playSession = '';

  // qoe is the heartbeat's QoE, of the page's counters now unless given.
  function qoe(c = counters()) {
    const q = {};
    const put = (k, v) => { if (v) q[k] = v; };
    if (player) {
      put('br', player.bitrateKbps());
      put('mtp', player.throughputKbps());
      const p = player.pathway();
      if (p) state.pathway = p;
    }
    state.bitrateKbps = q.br || 0;
    let buffered = 0;
    for (let i = 0; i < video.buffered.length; i++) {
      if (video.buffered.start(i) <= video.currentTime && video.currentTime <= video.buffered.end(i)) {
        buffered = video.buffered.end(i) - video.currentTime;
      }
    }
    put('bl', Math.round(buffered * 1000));
    if (state.sessionID === startupSession) put('startup_ms', state.startupMS || 0);
    else put('continued', state.startupMS !== null);
    if (state.sessionID !== playSession) put('view', playSession);
    put('rebuffer_count', Math.max(0, c.stalls - sessionBase.stalls));
    put('rebuffer_ms', Math.max(0, Math.round(c.stallMS - sessionBase.stallMS)));
    put('played_ms', Math.max(0, Math.round(c.playedMS - sessionBase.playedMS)));
    put('df', Math.max(0, c.df - sessionBase.df));
    if (/^[A-Za-z0-9._-]{1,128}$/.test(state.pathway)) put('cdn', state.pathway);
    if (/^[A-Za-z0-9._-]{1,128}$/.test(state.edge)) put('edge', state.edge);
    return q;
  }

  // beat sends one heartbeat once the one before it has been answered, so
  // the server sees them in the order the player sent them: a stop sent
  // while a progress beat is in flight would otherwise end the session
  // before the progress arrives, and that progress then gets 410.
  let beatChain = Promise.resolve();
  function beat(event) {
    const sent = beatChain.then(() => sendBeat(event));
    beatChain = sent.catch(() => {});
    return sent;
  }

  // The server's heartbeat cadence (next_heartbeat_ms; 30 s, its default,
  // until it said), when the lease it last granted lapses (ms since the
  // epoch), and the failed heartbeats since the last accepted one.
  let beatEvery = 30000;
  let leaseUntil = 0;
  let beatFailures = 0;

  // beatBody is the page's session's heartbeat of event, with the page's
  // counters c (now unless given) and position now.
  function beatBody(event, c) {
    const body = { event, device_time: new Date().toISOString(), qoe: qoe(c) };
    // Before the first frame there is no position: the heartbeat leaves
    // it out, so it writes no resume position, and its stop or error
    // still counts in the QoE views (an exit before video start, a
    // playback failure).
    if (state.startupMS !== null) {
      const durationMS = Math.max(1, Math.round((state.duration || video.duration || 0) * 1000));
      body.position_ms = Math.min(durationMS, Math.round(video.currentTime * 1000));
      body.duration_ms = durationMS;
    }
    return body;
  }

  // postBeat POSTs heartbeat body of session id with the playback token,
  // with keepalive when the page may be gone before the answer.
  function postBeat(id, body, keepalive) {
    return fetch(api + '/v1/playback/' + id + '/heartbeat', {
      method: 'POST',
      headers: { Authorization: 'Bearer ' + playbackToken, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      keepalive,
    });
  }

  // playUnderWay: the page's play is admitted and not over: while it
  // still asks for its URLs (authorizing, with a session: the start sent
  // as the play was admitted is the one heartbeat then), before its first
  // frame (loading) or after (playing). A heartbeat's refusal means the
  // same in all three, and sendBeat answers it the same way: before the
  // first frame no other heartbeat goes out until that frame, which may
  // never come, so a refusal left unanswered there would leave the page
  // loading on a session the server will not keep, with nothing said.
  // While the page authorizes, start() authorizes again itself
  // (startRefused).
  function playUnderWay() {
    return state.phase === 'playing' || state.phase === 'loading' || state.phase === 'authorizing' && !!state.sessionID;
  }

  // retriesBeat says whether a heartbeat of event whose answer offers a
  // retry (retryable) is sent again: while the page plays, and before its
  // first frame the start its admission sends (answered while the page
  // still asks for its URLs, or loads the stream). Before that frame no
  // other heartbeat goes out until the frame, which may come late or
  // never: a start dropped there leaves the server without word of the
  // view (a tab that then dies leaves none) and the lease unrenewed since
  // the play, so that a load which outlasts it is told 410 at its first
  // frame. A stop or an error is the page's last word and is not sent
  // again.
  function retriesBeat(event) {
    if (event === 'stop' || event === 'error') return false;
    return state.phase === 'playing' || event === 'start' && (state.phase === 'loading' || state.phase === 'authorizing');
  }

  // sendBeat sends one heartbeat. The server says when to send the next
  // (next_heartbeat_ms); 410 means the session is over (ended elsewhere,
  // revoked, lapsed) and playback stops; no answer, or a 5xx or 429 that
  // offers a retry (retryable), is retried within the lease; any other
  // 4xx, or a 500 that offers none, ends playback with its reason.
  async function sendBeat(event, c) {
    // No token: the one stop with a token past its expiry has gone
    // (lastStop).
    if (!state.sessionID || !playbackToken) return;
    clearTimeout(beatTimer);
    if (tokenRefused) {
      // Queued behind the heartbeat whose 401 refused the token, which
      // the server would refuse again: the re-authorization queued next
      // tells the session that takes over where the page is. A stop (the
      // viewer's, or leaving the page) tells this one's last counters
      // with the one stop the server still takes with that token, within
      // HEARTBEAT_TOKEN_STOP_GRACE, which ends it; refused, or not
      // answered, the account's token gives the session back, as a
      // refused stop does.
      if (event === 'stop' && !(await lastStop(state.sessionID, beatBody('stop', c)))) await giveBack();
      return;
    }
    const body = beatBody(event, c);
    const id = state.sessionID;
    state.beats.sent++;
    let r;
    try {
      // The page's last word: it may be gone before the answer.
      const resp = await postBeat(id, body, event === 'stop' || event === 'error');
      r = { status: resp.status, data: await resp.json().catch(() => null), retryAfterMS: retryAfterMS(resp.headers.get('Retry-After')) };
    } catch (err) {
      r = { status: 0, data: null };
      log('heartbeat ' + event + ' failed: ' + err.message, true);
    }
    state.beats.last = { event, status: r.status, position_ms: body.position_ms };
    state.beats.statuses.push(r.status);
    if (r.status === 200) {
      state.beats.ok++;
      if (!state.beats.okSessions.includes(id)) state.beats.okSessions.push(id);
    }
    render();
    if (event === 'stop' && tokenExpired(r)) {
      // The playback token can no longer end the session; the account's
      // token can (as "end this stream" does), freeing the stream slot now
      // rather than when the lease lapses. No route takes a final position
      // with it: the position is the last accepted heartbeat's.
      if (givenBack.has(id)) return;
      try {
        const d = await call('DELETE', '/v1/sessions/' + id, accountToken);
        log('stop refused (' + errText(r) + '): ended session ' + id + ' with the account token: ' + d.status, d.status !== 200);
      } catch (err) {
        log('stop refused (' + errText(r) + '), and ending session ' + id + ' failed: ' + err.message, true);
      }
      return;
    }
    if (id !== state.sessionID) return;
    if (r.status === 410) {
      log('session over (' + errText(r) + '): stopping', true);
      sessionOver(r);
      // The server still records the stop of an ended session, for
      // HEARTBEAT_STOP_GRACE: where the viewer got to since the last beat.
      // Sent here, not through beat(): this beat holds the chain.
      if (event !== 'stop') await sendBeat('stop');
      await teardown();
      render();
      return;
    }
    if (state.phase === 'authorizing' && (tokenExpired(r) || licenceEnded(r))) {
      // The start, answered while the page still asks for its URLs:
      // start() authorizes again before it loads (startRefused), once
      // those, which are the refused session's, are answered.
      // reauthorize does nothing meanwhile: start() is the play under
      // way (starting). A refused token sends the session nothing more
      // (tokenRefused), as below; the session that takes over replaces
      // it. Nor does a token the licence window ended: should that play
      // get no answer, the page's error heartbeat, refused 403
      // licence_window_ended as well, would tell the viewer the licence
      // has ended, which only that play could have said (the window may
      // have been extended since); the page tells the network's failure
      // instead, as for a token refused as expired, and may play again.
      log('heartbeat ' + event + ': ' + errText(r), true);
      tokenRefused = true;
      startRefused = { why: 'heartbeat ' + event + ': ' + (tokenExpired(r) ? 'playback token expired' : 'the licence window ended'), afterLicence: licenceEnded(r) };
      return;
    }
    if (tokenExpired(r) && playUnderWay()) {
      reauthorizeRefused('heartbeat ' + event + ': playback token expired');
      return;
    }
    if (r.status === 200) {
      beatFailures = 0;
      if (r.data && r.data.next_heartbeat_ms) beatEvery = r.data.next_heartbeat_ms;
      if (r.data && r.data.lease_expires_at) leaseUntil = Date.parse(r.data.lease_expires_at) || 0;
    } else if (licenceEnded(r)) {
      // The window the play was admitted under has ended (with
      // PLAYBACK_TOKEN_LEASE off, 401 token_expired, which a play under
      // way handled above): the session is renewed no further. Its
      // lease ended with the licence, so there is nothing to give back;
      // the server still takes one stop with this token within
      // HEARTBEAT_TOKEN_STOP_GRACE of the end, which tells the counters
      // since the last beat taken (swapSession sends it, after the play
      // below). An operator may have extended the window (or
      // another window may license the title now) since the play, which
      // the token cannot say: the page authorizes again, as it does a
      // token that expires, and plays on in the session admitted, with
      // the players' requests held from the end (holdAtLicenceEnd) so
      // that none goes out with the grants that ended; refused, playback
      // is over (swapSession).
      if (playUnderWay()) {
        log('heartbeat ' + event + ': ' + errText(r), true);
        // Not awaited: the re-authorization waits for this beat to end.
        reauthorize('the licence window ended', false, true).finally(releaseLicenceHold);
        return;
      }
      // A player failure this error beat reports was the end: the grants
      // and the manifest credential ended with the licence, and the
      // player fetched past it before the page's heartbeat after the end
      // could tell.
      if (!(event === 'error' && state.phase === 'error')) return;
      log('heartbeat ' + event + ': ' + errText(r) + ': stopping', true);
      // The server took nothing of this beat: the one stop it still
      // takes with this token (within HEARTBEAT_TOKEN_STOP_GRACE of the
      // end) tells the session's position and its counters up to here,
      // as swapSession's does at the licence's end. Its body is taken
      // before the teardown, which drops the position, with the clocks
      // stopped (as the teardown stops them), so that it tells what the
      // page timed. The page ends once it is answered. Before the first
      // frame there is nothing to tell, and the error is the view's end.
      let last = null;
      if (state.startupMS !== null) last = beatBody('stop', stoppedCounters());
      state.endNotice = refusalNotices.licence_window_ended;
      await teardown();
      if (last) await lastStop(id, last);
      state.phase = 'ended';
      state.error = '';
      render();
      return;
    } else if (!retryable(r)) {
      // The server refused this heartbeat and would refuse it again: the
      // lease cannot be kept, so playback ends now, saying why, rather
      // than when the lease lapses.
      if (!playUnderWay()) return;
      await teardown();
      // Not awaited: before the first frame its error heartbeat (the
      // view's playback failure) waits for this beat to end. Its failure
      // is logged, as no caller is left to hear it.
      failAndRelease('heartbeat ' + event + ': ' + errText(r)).catch((e) => log('ending the page: ' + e));
      return;
    }
    if (!retriesBeat(event)) return;
    if (r.status === 200) {
      // Before the first frame, that frame's start is the next heartbeat.
      if (state.phase !== 'playing') return;
      // The beat after the licence's end is what tells the page that the
      // window has ended (403 licence_window_ended): sent just past it
      // rather than up to an interval later, while the players' requests
      // are held. A page clock ahead of the server's is answered 200, and
      // asks again a second later while they are.
      const toLicenceEnd = licenceEndsAt - Date.now();
      let wait = beatEvery;
      if (licenceEndsAt && toLicenceEnd < beatEvery) wait = toLicenceEnd > 0 ? toLicenceEnd + licenceBeatLate : licenceHold ? 1000 : beatEvery;
      beatTimer = setTimeout(() => beat('progress'), wait);
      return;
    }
    // A failed heartbeat is retried well before the lease lapses: waiting
    // the usual interval could let it lapse (the lease is a few intervals
    // long), and a beat after that is only told 410. Retry-After is the
    // server's wish; otherwise back off from a second.
    beatFailures++;
    let wait = r.retryAfterMS || 1000 * 2 ** Math.min(beatFailures - 1, 5);
    wait = Math.min(wait, beatEvery);
    if (leaseUntil) wait = Math.min(wait, Math.max(500, (leaseUntil - Date.now()) / 2));
    log('heartbeat ' + event + ' got ' + (r.status || 'no answer') + ': retrying in ' + Math.round(wait) + ' ms', true);
    // The retry is the session's, in the phase it was set in: any
    // heartbeat that goes out first (the first frame's start, a stop)
    // clears the timer (above), and a page that left that phase meanwhile
    // without one (failed before it loads, stopping behind a beat in
    // flight) sends none.
    const again = event === 'start' ? 'start' : 'progress';
    beatTimer = setTimeout(() => { if (id === state.sessionID && retriesBeat(again)) beat(again); }, wait);
  }

  // sessionOver ends the page's play on a 410 (r): its session is over,
  // and the viewer is told why, by the end reason it names.
  function sessionOver(r) {
    state.phase = 'ended';
    const e = r.data && r.data.error;
    state.endReason = (e && e.details && e.details.end_reason) || '';
    state.endNotice = endNotices[state.endReason] || 'Playback has ended.';
  }

  // endNotices tell the viewer why the server ended playback, by the end
  // reason its 410 names (shared/playback's End* reasons).
  const endNotices = {
    ended_by_user: 'Playback was stopped from another device.',
    entitlement: 'Your subscription no longer allows playback.',
    replaced: 'This device started another stream.',
    device_removed: 'This device was removed from the account.',
    stopped: 'Playback was stopped.',
    lapsed: 'Playback ended: the connection to the service was lost for too long.',
  };

  // refusalNotices tell the viewer why the server will not play the title
  // (or on with it), by the reason of its 403 (shared/playback's licence
  // reasons): a play refused, a re-authorization refused, or a session
  // whose licence window ended mid-play.
  const refusalNotices = {
    licence_window_ended: 'This title is no longer available to stream: its licence period has ended.',
    not_licensed: 'This title is not available in your country at the moment.',
    not_licensed_in_viewer_country: 'This title is not available where you are at the moment.',
    not_licensed_at_home_or_in_viewer_country: 'This title is available neither where you are nor in your home country at the moment.',
    viewer_location_unknown: 'Your location could not be determined, so this title cannot play.',
    anonymous_proxy: 'This title cannot play through a VPN or proxy: turn it off to play.',
  };

  // noticeRefusal puts the notice of a 403 the table knows on the page,
  // and says whether it knew it.
  function noticeRefusal(r) {
    const e = r.status === 403 && r.data && r.data.error;
    const notice = e && refusalNotices[e.reason];
    if (notice) state.endNotice = notice;
    return !!notice;
  }

  // licenceEnded: the licence window the session was admitted under has
  // ended (the playback token ends with it), so this session is renewed
  // no further. Only a new play goes on, admitted if the window was
  // extended (or another window licenses the title) since: sendBeat
  // authorizes again, and a refusal ends playback as the licence's end
  // (swapSession).
  // A token the licence window ends (licence_ends_at) expires with it:
  // with PLAYBACK_TOKEN_LEASE off, its end is 401 token_expired, not 403
  // licence_window_ended.
  function licenceEnded(r) {
    return r.status === 403 && !!(r.data && r.data.error && r.data.error.reason === 'licence_window_ended') ||
      licenceEndsAt > 0 && tokenExpired(r);
  }

  // tokenExpired: the playback token outlived PLAYBACK_TOKEN_TTL (hours).
  function tokenExpired(r) {
    return r.status === 401 && !!(r.data && r.data.error && r.data.error.reason === 'token_expired');
  }

  // reauthorize plays on once the playback token expires, as apps do,
  // without asking the viewer: the same title on the same device is
  // authorized again (POST /v1/play), which the server answers by
  // replacing this device's session in the same step (no second stream
  // slot), unless the account ended that session meanwhile: the play
  // names it, and is then refused 410, which ends the page as a
  // heartbeat's 410 does (swapSession). The player is not reloaded: hls.js and dash.js keep the media
  // element and what they buffered, and the page hands them the new
  // session's grants (renewGrants; regrant puts them, with the new
  // session, on every request they make from then on). The CMCD sid stays
  // the first session's: it names the play, as qoe.view does, while a
  // session is named by the credential of the URL, never by sid
  // (events/schemas/cmcd.md). It runs in the
  // heartbeat chain, so that no heartbeat goes out meanwhile with the
  // token of a session being replaced. refused: the server has answered
  // the playback token 401 token_expired (tokenRefused). afterLicence: the
  // token ended with the window the play was admitted under, which the
  // server said (403 licence_window_ended, or 401 token_expired for a
  // token without the licence block): a refusal ends playback as the
  // licence's end (swapSession).
  async function reauthorize(why, refused = false, afterLicence = false) {
    if (refused) tokenRefused = true;
    if (starting) return;
    starting = true;
    log(why + '; authorizing again at ' + video.currentTime.toFixed(2) + ' s');
    const done = beatChain.then(() => replaceSession(afterLicence));
    beatChain = done.catch(() => {});
    try {
      await done;
    } catch (err) {
      // Left or stopped meanwhile, as swapSession tells an answered
      // play: a play cut off as the page went into the back/forward
      // cache fails, heard of once the page is shown back. The pagehide
      // stopped the session and gave it back (or Stop, queued behind
      // this, ends it), and nothing is in flight: the page stays as it
      // was shown back, stopped, not failed.
      if (state.phase !== 'playing' && state.phase !== 'loading') return;
      await teardown();
      fail('authorizing again: ' + (err && err.message || err));
      await giveBack();
    } finally {
      starting = false;
    }
  }

  // reauthorizeRefused authorizes again once the server refused the
  // playback token 401 token_expired (why: which request it refused). A
  // token the licence window ends expires with it (licenceEnded): a
  // refusal of the play that follows is the licence's end all the same
  // (swapSession), whichever request met the end first.
  function reauthorizeRefused(why) {
    return reauthorize(why, true, licenceEndsAt > 0);
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  // swapGrantAttempts bounds the reads of a new session's grants in a
  // swap, a second apart, before playback ends.
  const swapGrantAttempts = 5;

  async function replaceSession(afterLicence) {
    const before = state.sessionID;
    if (!before || (state.phase !== 'playing' && state.phase !== 'loading')) return;
    const release = hold();
    try {
      await swapSession(before, afterLicence);
    } finally {
      release();
    }
  }

  async function swapSession(before, afterLicence) {
    clearTimeout(renewTimer);
    if (renewing) await renewing;
    clearTimeout(renewTimer);
    // The session replaced tells its counters up to here with a last
    // heartbeat while its token is good, and the next one counts on from
    // exactly those (sessionBase): the play and stalls since its last
    // beat would otherwise be told by neither. The next session cannot
    // tell it instead: QoEBounds (shared/playback) holds a view's play and
    // stall time to its session's age plus QoEClockSlack, less than the
    // default interval: a view that began past it would have its play and
    // stall time refused in every report for as long as the viewer plays
    // on. A token already refused (the 401 path: a clock behind the
    // server's, or a tab that slept), ended with its licence window (the
    // server's 403 licence_window_ended, or 401 token_expired with
    // PLAYBACK_TOKEN_LEASE off: whatever the page's clock says, it takes
    // no progress), or past its expiry by the page's clock (a tab that
    // slept past this re-authorization's timer, with no request answered
    // since), tells them with a stop instead, which the server still
    // takes for HEARTBEAT_TOKEN_STOP_GRACE after the token's expiry or the
    // licence's end; refused too (past that grace, or the session was
    // replaced and the stop is not newer by device time than the stored
    // resume position), that time, at most a heartbeat interval, is lost.
    let told = null;
    let stalledAtTold = stallStart;
    let last = null;
    if (state.startupMS !== null && !tokenRefused && !afterLicence && Date.now() < tokenExpiresAt) {
      const c = counters();
      const sent = state.beats.sent;
      await sendBeat('progress', c);
      if (state.beats.sent > sent && state.beats.last.status === 200) told = c;
      // Answered 410 or refused: playback has ended meanwhile.
      if (state.phase !== 'playing' && state.phase !== 'loading') return;
    } else if (state.startupMS !== null) {
      const c = counters();
      last = { c, body: beatBody('stop', c) };
    }
    // No answer (the network): the session replaced tells its last
    // counters below, as on a refusal, before reauthorize fails the page
    // and gives it back (lost).
    let lost = null;
    const r = await reauthorizePlay(before).catch((err) => {
      lost = err;
      return { status: 0, data: null };
    });
    // Admitted, the new session holds the stream slot from now on: a page
    // left before it is taken (while the stop below is answered) gives it
    // back (pagehide), not the session it replaced alone.
    if (r.status === 201) admitted = r.data.session_id;
    // The stop goes once the play has answered (and replaced the session
    // if it admitted the new one), not before: it would free the stream
    // slot for another device meanwhile. It names the session replaced,
    // so it ends nothing of the new one, which counts on from exactly
    // what it tells. Refused or not answered, playback ends here: the
    // stop tells the counters up to the end, the play since the ones
    // above included (the players played on from their buffers while the
    // play was asked), which no session would tell otherwise.
    if (last && r.status !== 201 && (state.phase === 'playing' || state.phase === 'loading')) {
      video.pause();
      const c = stoppedCounters();
      last = { c, body: beatBody('stop', c) };
    }
    if (last && (state.phase === 'playing' || state.phase === 'loading') && await lastStop(before, last.body)) told = last.c;
    const unclaimed = admitted;
    admitted = '';
    if (r.status === 201 && state.phase !== 'playing' && state.phase !== 'loading') {
      // Left or stopped meanwhile: the new session is given back, not
      // adopted by a page that no longer plays (unless pagehide did).
      if (unclaimed) giveBackOnLeave(unclaimed);
      return;
    }
    if (r.status !== 201) {
      // Left or stopped meanwhile: the page gave the session back as it
      // was left (pagehide), or Stop, queued behind this swap, ends it;
      // and a page shown back from the back/forward cache stays as it was
      // shown, stopped.
      if (state.phase !== 'playing' && state.phase !== 'loading') return;
      if (r.status === 410) {
        // The account ended the session this play re-authorized (another
        // screen's "End this stream", the device removed, another play on
        // the device) after the page last heard from it, and the server
        // replaced nothing: playback is over, as on a heartbeat's 410.
        // Where the viewer got to goes with a stop (the server takes the
        // stop of an ended session within HEARTBEAT_STOP_GRACE), unless
        // lastStop told it above; nothing is given back: it is over.
        log('authorizing again: session over (' + errText(r) + '): stopping', true);
        if (!last && playbackToken) await sendBeat('stop');
        if (state.phase === 'playing' || state.phase === 'loading') {
          sessionOver(r);
          await teardown();
        }
        render();
        return;
      }
      if (lost) throw lost;
      return endReauthorization(r, afterLicence);
    }
    clearTimeout(beatTimer);
    if (!told) stalledAtTold = stallStart;
    sessionBase = told || counters();
    // A stall in progress where the session replaced last told it goes on
    // in the new session as one of its own, timed from there (even if it
    // is over by now). Left out of its count, the new view would tell
    // stall time with no stall.
    if (stalledAtTold) sessionBase.stalls--;
    takeSession(r.data);
    log('session ' + before + ' replaced by ' + state.sessionID + ', playing on');
    // The gate opens on the new session's grants only: the players' URLs
    // would otherwise be rewritten to the session just replaced (410).
    for (let attempt = 1; grants.session !== state.sessionID; attempt++) {
      if (attempt > swapGrantAttempts) throw new Error("the new session's grants could not be read");
      if (attempt > 1) await sleep(1000);
      if (state.phase !== 'playing' && state.phase !== 'loading') return;
      clearTimeout(renewTimer);
      await renewGrants();
      if (renewed.id === state.sessionID && renewed.status === 410) {
        // Over already: an end from another screen that named the session
        // replaced (a list read before this play) ends the play in the
        // session that took over. Its heartbeat's 410 ends the page,
        // saying why, as it does any session's end.
        await sendBeat('progress');
        return;
      }
    }
    // Where the new session begins. Before the first frame (the start
    // refused while the page loads), a start without a position begins
    // its view, as the play's first session's does (start(),
    // authorizeBeforeLoading): the refused start told the server nothing,
    // so a page that dies before its first frame would leave no view, and
    // the lease would go unrenewed while the page loads. That frame's
    // start says where it begins. Sent before the gate opens, so ahead of
    // the first frame's.
    if (state.phase === 'playing' || state.phase === 'loading') await sendBeat('start');
    // That start refused as expired too: the re-authorization it asks for
    // does nothing while this one runs (starting), and every later
    // heartbeat with the refused token waits for one, so the page would
    // play on sending nothing. A token refused the moment it was issued
    // is no expiry another play cures (start()'s bound before the page
    // loads): playback fails, saying why, and reauthorize gives the
    // session back.
    if (tokenRefused && state.sessionID === r.data.session_id && (state.phase === 'playing' || state.phase === 'loading')) {
      throw new Error('playback token expired again, in the session that took over');
    }
  }

  // endReauthorization ends playback once the play that was to take over
  // the page's session (authorizing again) was answered r, not 201 (409:
  // another device took the slot meanwhile): now, saying why, rather than
  // when the grants do, and the session it did not replace is given back.
  async function endReauthorization(r, afterLicence) {
    await teardown();
    await giveBack();
    if (r.status === 409 && r.data && r.data.error && r.data.error.details) return showConflict(r.data.error);
    if (afterLicence && noticeRefusal(r)) {
      // The window the play was admitted under has ended and no other
      // window licenses the title now (none extended it, or it was cut
      // short or removed): playback is over, as the licence says, which
      // the viewer is told rather than the play's refusal.
      log('authorizing again after the licence window ended: ' + errText(r) + ': stopping', true);
      state.phase = 'ended';
      state.error = '';
      state.endNotice = refusalNotices.licence_window_ended;
      render();
      return;
    }
    // Refused by the licence (a window ended or cut short since the
    // play): the viewer is told so, not shown an error.
    noticeRefusal(r);
    return fail('authorizing again: ' + errText(r));
  }

  // authorizeBeforeLoading authorizes again once the start heartbeat or
  // the URLs were refused while the page asked for them (startRefused), as
  // swapSession does once the page loads: the play replaces the refused
  // session on the device, and the page loads the one that takes over.
  // That session's view begins as the play's first did, with a start
  // without a position now (start()'s reason: a page that dies before
  // its first frame still leaves the view, and the lease is renewed
  // while the page loads), and its first frame's start says where it
  // begins (before that frame the session replaced has nothing to tell).
  // It returns that play's answer, or nothing once playback has ended
  // (refused, as a swap's refusal ends it, or the page left meanwhile).
  async function authorizeBeforeLoading() {
    const { why, afterLicence } = startRefused;
    startRefused = null;
    const before = state.sessionID;
    log(why + '; authorizing again before loading');
    // Named, so that a session the account ended meanwhile (another
    // screen's End this stream) is refused 410, not replaced by a play.
    let r;
    try {
      r = await reauthorizePlay(before);
    } catch (err) {
      // No answer: start() gives the refused session back.
      throw new Error('authorizing again: ' + (err && err.message || err));
    }
    if (state.phase !== 'authorizing') {
      // Left meanwhile: the pagehide ended the refused session (its
      // stop, and given back: reauthorizing), which reaches the new one
      // too; a page that lives on (back/forward cache) gives it back
      // itself as well, not adopted.
      if (r.status === 201) giveBackOnLeave(r.data.session_id);
      return null;
    }
    if (r.status === 410) {
      // The account ended the refused session (another screen's "End
      // this stream", the device removed) before this play named it:
      // playback is over, and the viewer is told why, as on a 410 to a
      // swap's play or to a heartbeat, not shown an error. The ended
      // session gets the stop the server still takes of an ended session
      // (HEARTBEAT_STOP_GRACE), as sendBeat sends it (with a refused
      // token, lastStop's).
      log('authorizing again: session over (' + errText(r) + '): stopping', true);
      sessionOver(r);
      await beat('stop');
      await teardown();
      render();
      return null;
    }
    if (r.status !== 201) {
      await endReauthorization(r, afterLicence);
      return null;
    }
    clearTimeout(beatTimer);
    takeSession(r.data);
    log('session ' + before + ' replaced by ' + state.sessionID + ' before loading');
    // Not awaited, as start()'s: beat() keeps it ahead of every later
    // heartbeat.
    beat('start');
    return r.data;
  }

  // lastStop sends session id, whose token the server refused or the
  // page's clock holds expired, its stop body with that token
  // (swapSession, Stop, leaving the page), and says whether the server
  // took it. It is the last request with the token, whatever the answer,
  // which the page drops as it sends it (sendBeat then sends nothing):
  // refused, the play that replaced the session has ended it, or the
  // account's token gives it back. Sent with keepalive: the page may be
  // gone before the answer.
  async function lastStop(id, body) {
    const sent = postBeat(id, body, true);
    playbackToken = '';
    try {
      const resp = await sent;
      log('session ' + id + ' told its last counters with its expired token: ' + resp.status, resp.status !== 200);
      return resp.status === 200;
    } catch (err) {
      log('session ' + id + ' could not tell its last counters: ' + err.message, true);
      return false;
    }
  }

  // reauthorizeBefore schedules that re-authorization ahead of the token's
  // expiry (token_expires_at of the play answer), a minute ahead or a
  // quarter of what is left when that is less, so that no heartbeat, grant
  // renewal or steering request is refused on the way: the grants the urls
  // route issues end with the token, and near it would be renewed ever
  // more often. The 401 path above stays for a clock behind the server's
  // or a tab that slept past the moment.
  // A token the licence ends is not renewed ahead: a new play would be
  // admitted under the same window and end with it as well, ever sooner
  // (licence_ends_at); the session plays out, and the heartbeat after the
  // end, refused 403 licence_window_ended, has the page authorize again
  // there, which plays on only if the window was extended meanwhile.
  let reauthTimer = null;
  function reauthorizeBefore(expiresAt) {
    clearTimeout(reauthTimer);
    if (licenceEndsAt) return;
    const left = Date.parse(expiresAt) - Date.now();
    if (!(left > 0)) return;
    const id = state.sessionID;
    reauthTimer = setTimeout(() => {
      if (id === state.sessionID && state.phase === 'playing') reauthorize('playback token expires at ' + expiresAt);
    }, left - Math.min(60000, left / 4));
  }

  // retryable: no answer, a 408, or the server's "try again later" (a
  // 5xx or 429 that offers a retry, retryOffered); other 4xx answer the
  // request itself, and a 500 without Retry-After says that resending it
  // changes nothing.
  function retryable(r) {
    const s = r.status;
    return s === 0 || s === 408 || ((s === 429 || s >= 500) && retryOffered(r));
  }

  async function stop() {
    if (!state.sessionID) return;
    video.pause();
    state.phase = 'stopping';
    await beat('stop');
    state.phase = 'stopped';
    await teardown();
    log('stopped at ' + state.currentTime.toFixed(2) + 's');
    render();
  }

  async function teardown() {
    clearTimeout(beatTimer);
    clearTimeout(reauthTimer);
    clearTimeout(renewTimer);
    clearTimeout(licenceTimer);
    releaseLicenceHold();
    grants = { token: '', folders: new Map() };
    stopPlayClock();
    // A stall of the player torn down is over; left running, it would
    // count on into the next play until that one's first frame.
    stopStallClock();
    $('stop').disabled = true;
    if (player) {
      try { player.destroy(); } catch (e) { /* already gone */ }
      player = null;
    }
    video.removeAttribute('src');
    video.load();
    watchFirstFrame();
  }

  // Leaving the page ends its session now rather than when the lease
  // lapses, with a stop heartbeat: once it plays the position is saved;
  // once admitted but before the first frame it carries none and is the
  // view's exit before video start. It leaves with keepalive: the page
  // may be gone before the answer. A page kept in the back/forward cache
  // is shown back (pageshow, persisted) with that session stopped, and
  // plays again when asked.
  //
  // A playback token that has expired (a tab that slept past its
  // re-authorization), or that the server refused while the page's clock
  // holds it good (tokenRefused: a clock behind the server's, left during
  // the swap that replaces it), stops the session only within
  // HEARTBEAT_TOKEN_STOP_GRACE of its expiry, and the page is gone before
  // a refusal could be answered with the account's token as Stop does:
  // the page sends the one stop that tells the session's last counters
  // (lastStop: nothing more goes with a refused token) and gives the
  // session back with the account's token as well. It gives it back also
  // when the token expires within leaveMargin, before the stop may land.
  // Whichever lands first, the server has both: a stop on a session the
  // DELETE ended is a late stop, taken within HEARTBEAT_STOP_GRACE, and a
  // DELETE on a session the stop ended leaves it as it was.
  const leaveMargin = 5000;
  // givenBack holds the sessions given back so: a page that lives on
  // (shown back from the back/forward cache) gives none of them back
  // again when the stop sent as it left is refused, or the
  // re-authorization it left is (giveBack, sendBeat).
  const givenBack = new Set();
  function giveBackOnLeave(id = state.sessionID) {
    givenBack.add(id);
    fetch(api + '/v1/sessions/' + id, { method: 'DELETE', headers: { Authorization: 'Bearer ' + accountToken }, keepalive: true })
      .catch(() => { /* the lease lapses anyway */ });
  }
  let leftWith = '';
  // admitted is the session a re-authorization's play admitted, while the
  // swap has not yet taken it (swapSession).
  let admitted = '';
  // reauthorizing is the session a re-authorization's play in flight
  // replaces (swapSession, authorizeBeforeLoading). That play may have
  // admitted a session the page, gone, never hears of, which holds the
  // stream slot until its lease lapses: the page's stop ends nothing of
  // it, whatever the play was authorized again for (a 403
  // licence_window_ended, whose session has nothing left to give back,
  // included). The DELETE of the session replaced reaches it (the server
  // follows that session's ReplacedBy to the one that took over), and,
  // landing before the play, ends the session it names, which the play
  // is then refused (410).
  let reauthorizing = '';
  window.addEventListener('pagehide', () => {
    if (releasing && !givenBack.has(releasing)) giveBackOnLeave(releasing);
    if (!state.sessionID) return;
    const tokenLeft = tokenExpiresAt ? tokenExpiresAt - Date.now() : Infinity;
    if (state.phase !== 'playing' && state.phase !== 'authorizing' && state.phase !== 'loading') return;
    // Sent now, not queued behind a heartbeat in flight (beat): the page
    // is gone before that one's answer could let the stop out.
    sendBeat('stop');
    if (tokenRefused || tokenLeft < leaveMargin) giveBackOnLeave();
    if (reauthorizing && !givenBack.has(reauthorizing)) giveBackOnLeave(reauthorizing);
    if (admitted) giveBackOnLeave(admitted);
    admitted = '';
    // No pause heartbeat or grant renewal for a session that is over.
    state.phase = 'stopping';
    leftWith = state.sessionID;
  });
  window.addEventListener('pageshow', async (e) => {
    if (!e.persisted || !leftWith || leftWith !== state.sessionID) return;
    leftWith = '';
    await teardown();
    state.phase = 'stopped';
    log('back on the page: session ' + state.sessionID + ' was stopped when the page was left');
    render();
  });

  // --- rendering -------------------------------------------------------------

  function renderPosition() {
    $('s-position').textContent = state.currentTime.toFixed(2) + ' / ' + (state.duration ? state.duration.toFixed(2) : '?') + ' s';
  }

  function render() {
    $('s-phase').textContent = state.phase + (state.error ? ': ' + state.error : '');
    $('s-session').textContent = state.sessionID || '–';
    $('s-quality').textContent = state.maxQuality || '–';
    $('s-source').textContent = state.source ? state.source.kind + ' (' + state.format + ', ' + state.grant + ')' : '–';
    if (player) {
      const p = player.pathway();
      if (p) state.pathway = p;
      state.bitrateKbps = player.bitrateKbps();
    }
    $('s-pathway').textContent = (state.pathway || '–') + (state.steeringLoads ? ' (steering loaded ' + state.steeringLoads + '×)' : '');
    $('s-edge').textContent = state.edge || '–';
    $('s-cmcd').textContent = state.cmcdMode || '–';
    $('s-startup').textContent = state.startupMS === null ? '–' : state.startupMS + ' ms';
    $('s-bitrate').textContent = state.bitrateKbps ? state.bitrateKbps + ' kbps' : '–';
    $('s-stalls').textContent = state.stalls + ' (' + Math.round(state.stallMS) + ' ms)';
    const b = state.beats;
    $('s-beats').textContent = b.sent + ' sent, ' + b.ok + ' ok' + (b.last ? ', last ' + b.last.event + ' → ' + b.last.status : '');
    $('conflict').hidden = state.phase !== 'conflict' && state.phase !== 'device_limit';
    $('notice').textContent = state.endNotice;
    $('notice').hidden = !state.endNotice;
    renderPosition();
  }

  $('controls').addEventListener('submit', (e) => { e.preventDefault(); play(); });
  $('stop').addEventListener('click', () => stop());
  watchFirstFrame();
  loadDemo().then(() => {
    render();
    if (params.get('autoplay') === '1') play();
  });
})();
