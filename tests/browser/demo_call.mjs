// Drive the cascade WebRTC demo page in headless Chromium, as a caller would.
//
//   node demo_call.mjs '{"url": "...", "wav": "caller.wav", "out": "dir", "sessions": 1, "seconds": 20}'
//
// The caller's microphone is the WAV file (Chromium's fake capture device). Each page records what
// it sends and what it hears into one stereo WAV (left: microphone, right: the agent) on a single
// audio clock, so the test can compare the caller's and the agent's timelines. Writes
// <out>/call<N>.wav, <out>/call<N>.json (events seen by the page) and screenshots.
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

const opts = {
  sessions: 1, seconds: 20, stagger: 0.5, screenshot: true, hangup: true,
  executable: "/usr/bin/chromium", ...JSON.parse(process.argv[2]),
};
fs.mkdirSync(opts.out, { recursive: true });

const RECORDER = () => {
  // Installed before the page's scripts: records microphone (left) and agent (right) at 16 kHz.
  const rec = (window.__rec = { left: [], right: [], started: null, ctx: null, merger: null });
  window.addEventListener("cascade:local-stream", (e) => {
    const ctx = (rec.ctx = new AudioContext({ sampleRate: 16000 }));
    const merger = (rec.merger = ctx.createChannelMerger(2));
    ctx.createMediaStreamSource(e.detail).connect(merger, 0, 0);
    const proc = ctx.createScriptProcessor(2048, 2, 2);
    proc.onaudioprocess = (ev) => {
      if (rec.started === null) rec.started = performance.now();
      rec.left.push(new Float32Array(ev.inputBuffer.getChannelData(0)));
      rec.right.push(new Float32Array(ev.inputBuffer.getChannelData(1)));
    };
    merger.connect(proc);
    proc.connect(ctx.destination);
    rec.proc = proc;
  });
  window.addEventListener("cascade:remote-stream", (e) => {
    const hook = () => rec.ctx.createMediaStreamSource(e.detail).connect(rec.merger, 0, 1);
    if (rec.ctx) hook();
    else setTimeout(hook, 50);
  });
  window.__takeRecording = () => {
    rec.proc && rec.proc.disconnect();
    const join = (chunks) => {
      const n = chunks.reduce((a, c) => a + c.length, 0);
      const pcm = new Int16Array(n);
      let o = 0;
      for (const c of chunks) for (const x of c) pcm[o++] = Math.max(-32768, Math.min(32767, Math.round(x * 32767)));
      let s = "";
      const bytes = new Uint8Array(pcm.buffer);
      for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(s);
    };
    return { rate: 16000, started: rec.started, left: join(rec.left), right: join(rec.right) };
  };
};

function writeStereoWav(file, rate, left, right) {
  const n = Math.min(left.length, right.length);
  const data = Buffer.alloc(n * 4);
  for (let i = 0; i < n; i++) {
    data.writeInt16LE(left[i], i * 4);
    data.writeInt16LE(right[i], i * 4 + 2);
  }
  const header = Buffer.alloc(44);
  header.write("RIFF", 0); header.writeUInt32LE(36 + data.length, 4); header.write("WAVE", 8);
  header.write("fmt ", 12); header.writeUInt32LE(16, 16); header.writeUInt16LE(1, 20);
  header.writeUInt16LE(2, 22); header.writeUInt32LE(rate, 24); header.writeUInt32LE(rate * 4, 28);
  header.writeUInt16LE(4, 32); header.writeUInt16LE(16, 34); header.write("data", 36);
  header.writeUInt32LE(data.length, 40);
  fs.writeFileSync(file, Buffer.concat([header, data]));
}

const int16 = (b64) => {
  const buf = Buffer.from(b64, "base64");
  return new Int16Array(buf.buffer, buf.byteOffset, buf.length / 2);
};
const sleep = (s) => new Promise((r) => setTimeout(r, s * 1000));

async function call(browser, index) {
  await sleep(index * opts.stagger);
  const context = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const page = await context.newPage();
  const logs = [];
  page.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => logs.push(`pageerror: ${e.message}`));
  await page.addInitScript(RECORDER);
  for (let attempt = 0; ; attempt++) {
    try {
      await page.goto(opts.url); // the server may still be starting
      break;
    } catch (error) {
      if (attempt >= 60) throw error;
      await sleep(0.5);
    }
  }
  await page.click("#start");
  const result = { index, screenshot: null, errors: [] };
  const deadline = Date.now() + opts.seconds * 1000;
  let shot = !(opts.screenshot && index === 0);
  while (Date.now() < deadline) {
    await sleep(0.25);
    if (!shot) {
      const spoken = await page.evaluate(() => window.cascadeDemo.events.filter((e) => e.type === "bot_words").length);
      if (spoken >= 6) {
        result.screenshot = path.join(opts.out, "demo-conversation.png");
        await page.screenshot({ path: result.screenshot });
        shot = true;
      }
    }
  }
  const state = await page.evaluate(() => ({
    state: window.cascadeDemo.state,
    events: window.cascadeDemo.events,
    error: document.getElementById("error").textContent,
  }));
  const rec = await page.evaluate(() => window.__takeRecording());
  const wav = path.join(opts.out, `call${index}.wav`);
  writeStereoWav(wav, rec.rate, int16(rec.left), int16(rec.right));
  if (opts.screenshot && index === 0) {
    result.final_screenshot = path.join(opts.out, "demo-final.png");
    await page.screenshot({ path: result.final_screenshot });
  }
  if (opts.hangup) {
    await page.click("#start"); // "End conversation"
    await sleep(0.5);
  }
  Object.assign(result, { wav, recording_started: rec.started, ...state, console: logs });
  fs.writeFileSync(path.join(opts.out, `call${index}.json`), JSON.stringify(result, null, 1));
  await context.close();
  return result;
}

const browser = await chromium.launch({
  executablePath: opts.executable,
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream", `--use-file-for-fake-audio-capture=${opts.wav}%noloop`,
    "--autoplay-policy=no-user-gesture-required",
    // the namespace address is plain http: let it use the microphone like localhost would
    `--unsafely-treat-insecure-origin-as-secure=${new URL(opts.url).origin}`,
  ],
});
try {
  const results = await Promise.all(Array.from({ length: opts.sessions }, (_, i) => call(browser, i)));
  console.log(JSON.stringify({ calls: results.map((r) => ({ index: r.index, wav: r.wav, state: r.state })) }));
} finally {
  await browser.close();
}
