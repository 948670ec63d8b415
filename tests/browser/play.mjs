// Plays a stream in headless Chromium with hls.js or Shaka Player (through the test page) and
// reports, as one JSON line, whether playback advances with wall time and where a seek lands.
// Usage: node play.mjs URL [--watch 8] [--seek-back 12] [--seek-to 60] [--cap-kbps 500]
//        [--login L --password P (--channel ID | --title ID | --content type:id --mode M [--window S])
//         [--deny-content type:id --deny-mode M]]
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

// playwright-core is installed (pinned) in web/, not next to this script.
const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "..", "web", "package.json"));
const { chromium } = require("playwright-core");

const [url, ...rest] = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = rest.indexOf(`--${name}`);
  return i >= 0 ? Number(rest[i + 1]) : dflt;
};
const text = name => { const i = rest.indexOf(`--${name}`); return i >= 0 ? rest[i + 1] : null; };
const watch = opt("watch", 8), seekBack = opt("seek-back", 0), seekTo = opt("seek-to", null);
const capKbps = opt("cap-kbps", 0);
// Optional: sign in on the page and pick a channel (playback then goes through POST /v1/playback).
const login = text("login"), password = text("password"), channel = text("channel"), title = text("title");
// Or ask the door for any content in any mode, as an app would; a refused request first, if given.
const content = text("content"), mode = text("mode"), windowS = opt("window", 0);
const denyContent = text("deny-content"), denyMode = text("deny-mode");
const result = { url, ok: false, errors: [], console: [] };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required", "--mute-audio"],
});
const sleep = ms => new Promise(r => setTimeout(r, ms));
try {
  const page = await browser.newPage();
  page.on("console", m => { if (m.type() === "error") result.console.push(m.text()); });
  page.on("pageerror", e => result.errors.push(String(e)));
  // Playlist reloads that asked for a delta update (hls.js does by default where one is offered).
  result.deltaRequests = 0;
  page.on("request", r => { if (r.url().includes("_HLS_skip=")) result.deltaRequests += 1; });
  await page.goto(url);
  if (login) {
    await page.fill("#login", login);
    await page.fill("#password", password);
    await page.click("#signin");
    await page.waitForFunction(() => window.smartgo.signedIn, null, { timeout: 15000 });
    const ask = (c, m) => page.evaluate(([c, m, w]) => {
      const [type, ...id] = c.split(":");
      return window.playContent(type, id.join(":"), m, w);
    }, [c, m, windowS]);
    if (denyContent) {
      // The refusal the page shows: its stable code and the text a subscriber reads.
      await ask(denyContent, denyMode);
      result.refused = { denied: await page.evaluate(() => window.smartgo.denied),
                         shown: await page.textContent("#denied") };
    }
    if (content) await ask(content, mode);
    // Or a channel from the list, or a VOD title from the browse rows.
    else await page.click(title ? `li[data-title="${title}"]` : `li[data-id="${channel}"]`, { timeout: 15000 });
    await sleep(content ? 300 : 1500);
    const denied = await page.evaluate(() => window.smartgo.denied);
    if (denied) {
      result.denied = denied;
      result.shown = await page.textContent("#denied");
      result.ok = true;
      throw "done";
    }
    result.src = await page.evaluate(() => window.smartgo.src);
  }
  const state = () => page.evaluate(() => {
    const v = document.querySelector("video");
    const s = v.seekable.length ? [v.seekable.start(0), v.seekable.end(v.seekable.length - 1)] : null;
    return { t: v.currentTime, paused: v.paused, seekable: s, fatal: window.smartgo.fatal,
             errors: window.smartgo.errors, w: v.videoWidth, h: v.videoHeight };
  });
  const deadline = Date.now() + 40000;
  let s = await state();
  while (s.t < 0.5 && !s.fatal && Date.now() < deadline) { await sleep(250); s = await state(); }
  if (s.t < 0.5) throw new Error(`playback did not start: ${JSON.stringify(s)}`);
  // Where playback began (EXT-X-START for start-over and catch-up) and how long the stream is.
  result.started = s.t;
  result.duration = await page.evaluate(() => document.querySelector("video").duration);
  if (text("tracks")) {
    // Switch to the other audio language and show the first subtitle track, as a viewer would.
    result.tracks = await page.evaluate(async () => {
      const sleep = ms => new Promise(r => setTimeout(r, ms));
      const p = window.smartgo.instance, v = document.querySelector("video"), out = {};
      if (window.smartgo.player === "shaka") {
        const active = () => p.getVariantTracks().find(t => t.active).language;
        out.audio = p.getAudioLanguagesAndRoles().map(x => x.language);
        out.before = active();
        p.selectAudioLanguage(out.audio.find(l => l !== out.before));
        const texts = p.getTextTracks();
        out.subtitles = texts.map(t => t.language);
        if (texts.length) { p.selectTextTrack(texts[0]); await p.setTextTrackVisibility(true); }
        await sleep(3000);
        out.after = active();
      } else {
        out.audio = p.audioTracks.map(t => t.lang);
        out.before = p.audioTracks[p.audioTrack].lang;
        p.audioTrack = p.audioTracks.findIndex(t => t.lang !== out.before);
        out.subtitles = p.subtitleTracks.map(t => t.lang);
        p.subtitleTrack = 0;
        p.subtitleDisplay = true;
        await sleep(3000);
        out.after = p.audioTracks[p.audioTrack].lang;
      }
      out.cues = [];
      out.showing = [];
      for (const tt of v.textTracks) {
        if (tt.mode === "showing") out.showing.push(tt.language || tt.label);
        for (const c of tt.cues || []) out.cues.push(c.text);
      }
      return out;
    });
  }
  result.window = s.seekable ? s.seekable[1] - s.seekable[0] : null;
  const wall0 = Date.now(), t0 = s.t;
  await sleep(watch * 1000);
  s = await state();
  result.advance = { wall: (Date.now() - wall0) / 1000, media: s.t - t0 };
  result.size = [s.w, s.h];
  if (capKbps > 0) {
    // Wait for the top rendition, then cap the link below it (Chromium's network emulation)
    // and see the player step down: the picture's height, sampled as it plays.
    const heights = [];
    const sample = async () => { const x = await state(); heights.push([Date.now(), x.h, x.t]); return x; };
    let top = Date.now() + 25000;
    while ((await sample()).h < 360 && Date.now() < top) await sleep(250);
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Network.enable");
    const capped = Date.now();
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 20,
      downloadThroughput: capKbps * 1000 / 8, uploadThroughput: -1 });
    const before = heights[heights.length - 1][1];
    top = Date.now() + 40000;
    while ((await sample()).h >= before && Date.now() < top) await sleep(250);
    const last = heights[heights.length - 1];
    result.abr = { before, after: last[1], afterS: (last[0] - capped) / 1000, advancing: last[2] > heights[0][2] };
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1,
      uploadThroughput: -1 });
  }
  if (seekBack > 0 || seekTo !== null) {
    s = await state();
    // Seek back from where playback is, or to a position from the start of what is seekable.
    const target = seekTo !== null ? s.seekable[0] + seekTo : Math.max(s.seekable[0] + 1, s.t - seekBack);
    // Where playback is when the seek completes (the 'seeked' event), not seconds later.
    const landed = await page.evaluate(t => new Promise(resolve => {
      const v = document.querySelector("video");
      const timer = setTimeout(() => resolve(null), 15000);
      v.addEventListener("seeked", () => { clearTimeout(timer); resolve(v.currentTime); }, { once: true });
      v.currentTime = t;
    }), target);
    result.seek = { target, landed, seekable: (await state()).seekable };
    await sleep(3000);
    result.seek.later = (await state()).t;
  }
  s = await state();
  result.fatal = s.fatal;
  result.playerErrors = s.errors;
  result.ok = !s.fatal;
} catch (e) {
  if (e !== "done") result.errors.push(String(e && e.stack || e));
} finally {
  await browser.close();
  console.log(JSON.stringify(result));
}
