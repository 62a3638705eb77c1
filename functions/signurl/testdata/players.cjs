// players.cjs reads URLs as the players do, for urlread_test.go: the
// browser's URL parser (node's WHATWG URL, the parser the page's fetches
// go through) and hls.js's url-toolkit, taken at run time from the
// hls.min.js the player page loads, which the test sends on stdin with the
// readings to make:
//
//   {"hls": "<hls.min.js>", "readings": [{"reader": "hls"|"url"|"dash"|"asset", "ref", "base", "page"}]}
//
// "hls" is how hls.js resolves a playlist's URI (M3U8Parser.resolve, a
// fragment's and a key's url: buildAbsoluteURL(base, ref, {alwaysNormalize:
// true})), then fetches it: the browser parses that against the page.
// "url" is new URL(ref, base) (hls.js's interstitial asset list). "dash" is
// how dash.js resolves a segment's URL against a BaseURL
// (DefaultURLUtils.resolve, new URL(ref, base), where isRelative holds). "asset" is how hls.js loads an interstitial's
// asset (the asset player's loadSource): new URL(ref) without a base, and
// where that fails, a relative URI, which hls.js resolves against the page
// where the playlist's URL is meant (RFC 8216bis 4.1): against base here. Each answer is {href} or {error}, with the
// url-toolkit string for "hls" (toolkit) to tell what it did.
"use strict";
const vm = require("node:vm");

function urlToolkit(src) {
  // url-toolkit is bundled as a CommonJS factory, function(module,
  // exports){... exports = {buildAbsoluteURL, parseURL, ...}}: the one
  // enclosing buildAbsoluteURL's definition.
  const at = src.indexOf("buildAbsoluteURL:function");
  if (at < 0) throw new Error("hls.min.js defines no buildAbsoluteURL");
  const start = src.lastIndexOf("function(", at);
  const close = src.indexOf(".exports=", at);
  const end = close < 0 ? -1 : src.indexOf("}", close);
  if (start < 0 || end < 0) throw new Error("hls.min.js: url-toolkit's factory not found around buildAbsoluteURL");
  const factory = vm.runInNewContext("(" + src.slice(start, end + 1) + ")");
  const mod = { exports: {} };
  factory(mod, mod.exports);
  if (typeof mod.exports.buildAbsoluteURL !== "function") {
    throw new Error("hls.min.js: the factory around buildAbsoluteURL exports no buildAbsoluteURL");
  }
  return mod.exports;
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => {
  const { hls, readings } = JSON.parse(input);
  const toolkit = urlToolkit(hls);
  const out = readings.map(({ reader, ref, base, page }) => {
    const answer = {};
    try {
      let url = ref;
      if (reader === "hls") {
        url = answer.toolkit = toolkit.buildAbsoluteURL(base, ref, { alwaysNormalize: true });
        base = page;
      } else if (reader === "dash") {
        // DefaultURLUtils: a URL with a scheme (as its isRelative reads
        // one, '_' too) is fetched as it is, from the page.
        if (/^[a-z][a-z0-9+\-_.]*:/i.test(ref)) base = page;
      } else if (reader === "asset") {
        try {
          answer.href = new URL(ref).href;
          return answer;
        } catch (e) {}
      } else if (reader !== "url") {
        throw new Error("no reader " + JSON.stringify(reader));
      }
      answer.href = new URL(url, base).href;
    } catch (e) {
      answer.error = String(e.message || e);
    }
    return answer;
  });
  process.stdout.write(JSON.stringify({ node: process.version, answers: out }));
});
