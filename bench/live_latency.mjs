// Live latency in hls.js with its default settings: the test page plays a live channel in headless
// Chromium and, every 500 ms, reads how far behind the wall clock the picture is (the programme
// date-time hls.js maps the playing position to, against Date.now()). One JSON line out.
// Usage: node bench/live_latency.mjs URL --warmup 20 --seconds 60
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "web", "package.json"));
const { chromium } = require("playwright-core");

const [url, ...rest] = process.argv.slice(2);
const opt = (name, dflt) => { const i = rest.indexOf(`--${name}`); return i >= 0 ? Number(rest[i + 1]) : dflt; };
const warmup = opt("warmup", 20), seconds = opt("seconds", 60);
const sleep = ms => new Promise(r => setTimeout(r, ms));
const out = { url, samples: [], stalls: 0, errors: [] };
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required", "--mute-audio"],
});
try {
  const page = await browser.newPage();
  page.on("pageerror", e => out.errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => window.smartgo.instance && window.smartgo.instance.playingDate, null,
                             { timeout: 60000 });
  const read = () => page.evaluate(() => {
    const hls = window.smartgo.instance, v = document.querySelector("video");
    const level = hls.levels[hls.currentLevel >= 0 ? hls.currentLevel : 0];
    return { latency: (Date.now() - hls.playingDate.getTime()) / 1000, t: v.currentTime,
             hlsLatency: hls.latency, targetLatency: hls.targetLatency,
             targetDuration: level && level.details ? level.details.targetduration : null,
             fatal: window.smartgo.fatal };
  });
  await sleep(warmup * 1000);
  let last = await read();
  for (let i = 0; i < seconds * 2; i++) {
    await sleep(500);
    const s = await read();
    if (s.fatal) { out.errors.push(JSON.stringify(s.fatal)); break; }
    if (s.t <= last.t) out.stalls += 1;
    out.samples.push(s.latency);
    out.targetLatency = s.targetLatency;
    out.targetDuration = s.targetDuration;
    last = s;
  }
} catch (e) {
  out.errors.push(String(e && e.stack || e));
} finally {
  await browser.close();
  console.log(JSON.stringify(out));
}
