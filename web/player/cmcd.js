// cmcd.js — plays ?mpd= with Shaka Player or dash.js, CMCD v2 on, event
// mode reporting to ?collector=. It only configures the players; the state
// it exposes (window.playplane) is for the test driving the page, and
// nothing of it is sent anywhere by this page.
'use strict';
(function () {
  const q = new URLSearchParams(location.search);
  const video = document.getElementById('video');
  const state = window.playplane = { phase: 'loading', error: '', currentTime: 0, player: q.get('player') };
  video.addEventListener('timeupdate', () => { state.currentTime = video.currentTime; });
  video.addEventListener('playing', () => { state.phase = 'playing'; state.buffering = false; });
  // Whether the player is stalled, so the test's viewer pauses while the
  // picture moves (see cmd/playplane TestBrowserCMCDEventMode).
  state.buffering = true;
  video.addEventListener('waiting', () => { state.buffering = true; });
  const fail = (e) => { state.phase = 'error'; state.error = String(e && (e.message || e.code) || e); };
  const interval = Number(q.get('interval') || 30);
  // The app's resume: it starts the player where GET /v1/progress says the
  // viewer left off. (Playing on is the player's own reporting.)
  const start = Number(q.get('start') || 0);
  // The CMCD v2 event types both players implement: play-state changes,
  // time intervals and errors.
  const events = ['ps', 't', 'e'];
  // The play's name (CMCD sid, CTA-5004's GUID of the playback session):
  // the app passes the session_id of the play's first POST /v1/play and
  // passes the same one again when it re-authorizes and loads the player
  // with the new session's collector. The collector reads a sid other than
  // the session's own as the play it goes on with, so the play stays one
  // view with one startup (events/schemas/cmcd.md). Unset, each player
  // sends a random one of its own per load, and each session is a view.
  const sid = q.get('sid') || '';

  if (q.get('player') === 'shaka') {
    shaka.polyfill.installAll();
    const player = new shaka.Player();
    player.addEventListener('buffering', (e) => { state.buffering = e.buffering; });
    player.attach(video).then(() => {
      player.configure({
        // Shaka bans a stream whose dropped-frame ratio passes a threshold;
        // this page's one video stream dropped 37% of its frames in a
        // headless Chromium on a loaded 2-core CI machine, and the ban
        // stopped playback at 3.6 s. Frames are not what this page tests.
        abr: { droppedFrames: false },
        cmcd: {
          enabled: true,
          version: 2,
          contentId: q.get('cid'),
          sessionId: sid,
          eventTargets: [{ enabled: true, url: q.get('collector'), events, interval, batchSize: 1 }],
        },
      });
      return player.load(q.get('mpd'), start || null);
    }).then(() => video.play()).catch(fail);
  } else {
    const player = dashjs.MediaPlayer().create();
    player.updateSettings({
      streaming: {
        cmcd: {
          enabled: true,
          version: 2,
          cid: q.get('cid'),
          sid: sid || null,
          mode: 'query',
          eventTargets: [{
            enabled: true, url: q.get('collector'), events, interval, batchSize: 1,
            // dash.js sends no key of an event target whose keys are not
            // listed: these are the ones the collector reads.
            enabledKeys: ['e', 'sta', 'ts', 'sn', 'sid', 'cid', 'v', 'pt', 'br', 'mtp', 'bl', 'msd', 'bsd', 'ec', 'cdn'],
          }],
        },
      },
    });
    player.on(dashjs.MediaPlayer.events.ERROR, (e) => fail(e.error));
    player.initialize(video, q.get('mpd'), true, start || NaN);
  }
})();
