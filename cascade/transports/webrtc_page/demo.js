// cascade WebRTC demo page: one call to the voice agent, with live transcript and latency.
// The server's event protocol is documented in cascade/transports/webrtc.py.
"use strict";

const params = new URLSearchParams(location.search);
const token = params.get("token") || "";
// ?raw=1 turns the browser's echo cancellation, noise suppression and gain control off
// (needed when the "microphone" is a recording, as in the tests).
const raw = params.get("raw") === "1";

const $ = (id) => document.getElementById(id);
const ui = {
  status: $("status"), statusText: $("status-text"), session: $("session"), transcript: $("transcript"),
  empty: $("empty"), live: $("live"), liveText: $("live-text"), orb: $("orb"), mode: $("mode"),
  hint: $("mode-hint"), start: $("start"), mute: $("mute"), meterYou: $("meter-you"),
  meterBot: $("meter-bot"), error: $("error"), v2vLast: $("v2v-last"), v2vAvg: $("v2v-avg"),
  turns: $("turns"), remote: $("remote"),
};

// State shared with tests (read-only for them): streams, events and the call state.
const demo = (window.cascadeDemo = {
  state: "idle", pc: null, channel: null, sessionId: null, localStream: null, remoteStream: null,
  events: [], latencies: [],
});

const CLOCK_ICON =
  '<svg width="12" height="12" viewBox="0 0 16 16" aria-hidden="true"><circle cx="8" cy="8" r="6.5" fill="none" ' +
  'stroke="currentColor" stroke-width="1.6"/><path d="M8 4.5V8l2.5 1.5" fill="none" stroke="currentColor" ' +
  'stroke-width="1.6" stroke-linecap="round"/></svg>';

let bubbles = new Map(); // response_id -> bot message element
let audioCtx = null;
let meterTimer = null;

function setStatus(state, text) {
  demo.state = state;
  ui.status.dataset.state = state;
  ui.statusText.textContent = text;
}

function setMode(mode, title, hint) {
  ui.orb.dataset.mode = mode;
  ui.mode.textContent = title;
  ui.hint.textContent = hint;
}

function showError(message) {
  ui.error.textContent = message;
  ui.error.hidden = !message;
}

function addItem(className, html) {
  ui.empty.hidden = true;
  const li = document.createElement("li");
  li.className = className;
  li.innerHTML = html;
  ui.transcript.appendChild(li);
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
  return li;
}

function escapeHtml(text) {
  const div = document.createElement("div");
  div.textContent = text;
  return div.innerHTML;
}

function botBubble(responseId) {
  let li = bubbles.get(responseId);
  if (!li) {
    li = addItem("msg bot", '<span class="who">Agent</span><span class="text"></span><div class="meta"></div>');
    bubbles.set(responseId, li);
  }
  return li;
}

function ms(seconds) {
  return seconds == null ? "—" : Math.round(seconds * 1000).toString();
}

function showTurn(turn) {
  if (turn.voice_to_voice == null) return;
  demo.latencies.push(turn.voice_to_voice);
  ui.v2vLast.textContent = ms(turn.voice_to_voice);
  const avg = demo.latencies.reduce((a, b) => a + b, 0) / demo.latencies.length;
  ui.v2vAvg.textContent = demo.latencies.length > 1 ? `avg ${ms(avg)} ms · ${demo.latencies.length} turns` : "";
  const scale = Math.max(turn.voice_to_voice, 0.001);
  for (const [key, value] of Object.entries(turn.deltas || {})) {
    const bar = document.querySelector(`.breakdown i[data-k="${key}"]`);
    const label = document.querySelector(`.breakdown b[data-v="${key}"]`);
    if (bar) bar.style.width = `${Math.min(100, (100 * value) / scale)}%`;
    if (label) label.textContent = `${ms(value)} ms`;
  }
  const row = document.createElement("tr");
  row.innerHTML = `<td>#${turn.turn + 1}</td><td>${ms(turn.voice_to_voice)} ms</td>` +
    `<td>${turn.interrupted ? '<span class="chip int">interrupted</span>' : ""}</td>`;
  ui.turns.prepend(row);
  demo.pendingLatency = turn.voice_to_voice;
}

function onEvent(event) {
  demo.events.push({ ...event, received: performance.now() });
  switch (event.type) {
    case "session":
      demo.sessionId = event.id;
      ui.session.textContent = `session ${event.id}`;
      break;
    case "speech_started":
      setMode("hearing", "Hearing you", "Keep talking — the agent waits for you to finish.");
      break;
    case "speech_stopped":
      setMode("listening", "Listening", "Say something, or interrupt the agent at any time.");
      break;
    case "partial":
      ui.live.hidden = !event.text;
      ui.liveText.textContent = event.text;
      break;
    case "final":
      ui.live.hidden = true;
      if (event.text.trim()) addItem("msg user", `<span class="who">You</span>${escapeHtml(event.text)}`);
      break;
    case "end_of_turn":
      setMode("thinking", "Thinking", "The agent is preparing its answer.");
      break;
    case "bot_started": {
      const li = botBubble(event.response_id);
      li.classList.add("speaking");
      setMode("speaking", "Speaking", "Talk over the agent to interrupt it.");
      break;
    }
    case "bot_words": {
      const li = botBubble(event.response_id);
      li.querySelector(".text").textContent += event.text;
      if (demo.pendingLatency != null && !li.dataset.latency) {
        li.dataset.latency = demo.pendingLatency;
        li.querySelector(".meta").innerHTML =
          `<span class="chip" title="voice-to-voice latency">${CLOCK_ICON}${ms(demo.pendingLatency)} ms</span>`;
        demo.pendingLatency = null;
      }
      ui.transcript.scrollTop = ui.transcript.scrollHeight;
      break;
    }
    case "bot_ended": {
      const li = bubbles.get(event.response_id);
      if (li) {
        li.classList.remove("speaking");
        if (event.heard_text && !li.querySelector(".text").textContent.trim()) {
          li.querySelector(".text").textContent = event.heard_text;
        }
        if (event.interrupted) li.querySelector(".meta").innerHTML += '<span class="chip int">interrupted</span>';
      }
      const row = ui.turns.firstElementChild;
      if (event.interrupted && row && !row.dataset.marked) {
        row.dataset.marked = "1";
        row.lastElementChild.innerHTML = '<span class="chip int">interrupted</span>';
      }
      setMode("listening", "Listening", "Say something, or interrupt the agent at any time.");
      break;
    }
    case "interrupt":
      addItem("marker", `You interrupted · ${event.dropped_seconds.toFixed(1)} s of reply dropped`);
      break;
    case "turn":
      showTurn(event);
      break;
    case "error":
      showError(`${event.stage}: ${event.message}`);
      break;
    case "bye":
      if (demo.state === "connected") stop(`Call ended: ${event.reason}`);
      break;
  }
}

function level(analyser, buffer) {
  analyser.getFloatTimeDomainData(buffer);
  let sum = 0;
  for (const x of buffer) sum += x * x;
  return Math.min(100, Math.sqrt(sum / buffer.length) * 400);
}

function startMeters(local, remote) {
  audioCtx = audioCtx || new AudioContext();
  const make = (stream) => {
    const analyser = audioCtx.createAnalyser();
    analyser.fftSize = 1024;
    audioCtx.createMediaStreamSource(stream).connect(analyser);
    return analyser;
  };
  const you = make(local);
  const bot = remote ? make(remote) : null;
  const buffer = new Float32Array(1024);
  clearInterval(meterTimer);
  meterTimer = setInterval(() => {
    ui.meterYou.style.width = `${level(you, buffer)}%`;
    if (bot) ui.meterBot.style.width = `${level(bot, buffer)}%`;
  }, 60);
}

function waitForIce(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => pc.iceGatheringState === "complete" && resolve();
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 3000); // use what was gathered so far
  });
}

async function start() {
  showError("");
  setStatus("connecting", "Connecting…");
  ui.start.disabled = true;
  try {
    if (!navigator.mediaDevices) {
      throw new Error("The microphone needs a secure page: open it at http://localhost:<port> or over HTTPS.");
    }
    const constraints = raw
      ? { echoCancellation: false, noiseSuppression: false, autoGainControl: false }
      : { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
    demo.localStream = await navigator.mediaDevices.getUserMedia({ audio: constraints });
    window.dispatchEvent(new CustomEvent("cascade:local-stream", { detail: demo.localStream }));
    const pc = (demo.pc = new RTCPeerConnection({ iceServers: [] }));
    const channel = (demo.channel = pc.createDataChannel("events"));
    channel.onmessage = (message) => onEvent(JSON.parse(message.data));
    pc.ontrack = (event) => {
      demo.remoteStream = event.streams[0] || new MediaStream([event.track]);
      ui.remote.srcObject = demo.remoteStream;
      window.dispatchEvent(new CustomEvent("cascade:remote-stream", { detail: demo.remoteStream }));
      startMeters(demo.localStream, demo.remoteStream);
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "connected") {
        setStatus("connected", "Connected");
        setMode("listening", "Listening", "Say something, or interrupt the agent at any time.");
      } else if (pc.connectionState === "failed") {
        stop("The connection failed (ICE). Check your network or firewall.");
      }
    };
    for (const track of demo.localStream.getAudioTracks()) pc.addTrack(track, demo.localStream);
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIce(pc);
    const response = await fetch("offer", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify({ type: "offer", sdp: pc.localDescription.sdp }),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || `the server answered ${response.status}`);
    demo.sessionId = answer.session_id;
    await pc.setRemoteDescription({ type: answer.type, sdp: answer.sdp });
    ui.start.textContent = "End conversation";
    ui.start.classList.add("stop");
    ui.start.disabled = false;
    ui.mute.disabled = false;
    if (!demo.remoteStream) startMeters(demo.localStream, null);
  } catch (error) {
    stop(error.message || String(error));
  }
}

function stop(reason) {
  const { pc, channel, sessionId } = demo;
  if (channel && channel.readyState === "open") channel.send(JSON.stringify({ type: "hangup" }));
  if (sessionId) {
    fetch(`sessions/${sessionId}`, {
      method: "DELETE", keepalive: true, headers: { Authorization: `Bearer ${token}` },
    }).catch(() => {});
  }
  if (pc) pc.close();
  if (demo.localStream) demo.localStream.getTracks().forEach((t) => t.stop());
  Object.assign(demo, { pc: null, channel: null, sessionId: null, localStream: null, remoteStream: null });
  clearInterval(meterTimer);
  ui.meterYou.style.width = ui.meterBot.style.width = "0";
  ui.start.textContent = "Start conversation";
  ui.start.classList.remove("stop");
  ui.start.disabled = false;
  ui.mute.disabled = true;
  ui.mute.setAttribute("aria-pressed", "false");
  ui.mute.textContent = "Mute";
  ui.live.hidden = true;
  bubbles = new Map();
  if (reason) {
    showError(reason);
    setStatus("error", "Disconnected");
  } else {
    setStatus("idle", "Ready");
  }
  setMode("idle", "Not connected", "Press Start to talk to the agent.");
}

ui.start.addEventListener("click", () => (demo.pc ? stop("") : start()));
ui.mute.addEventListener("click", () => {
  const track = demo.localStream && demo.localStream.getAudioTracks()[0];
  if (!track) return;
  track.enabled = !track.enabled;
  ui.mute.setAttribute("aria-pressed", String(!track.enabled));
  ui.mute.textContent = track.enabled ? "Mute" : "Unmute";
  if (!track.enabled) setMode("idle", "Muted", "The agent cannot hear you. Press Unmute to talk.");
  else setMode("listening", "Listening", "Say something, or interrupt the agent at any time.");
});
window.addEventListener("pagehide", () => demo.pc && stop(""));
