// The console's controller: settings -> call, server events -> panels, and
// the session lifecycle (connecting / connected / closing / closed / failed).

import { Call, mintSecret } from "./call.js";
import { ConsoleError } from "./errors.js";
import { LatencyTable } from "./latency.js";
import { EventLog } from "./log.js";
import { ScenarioRunner, describeRules, loadScenarios } from "./scenario.js";
import { sessionConfig, turnDetection } from "./session.js";
import { AudioWatch, StatsPoller } from "./stats.js";
import { Transcript } from "./transcript.js";

// The last words of a push-to-talk turn are still in the RTP pipeline when the
// button comes up; committing at once would cut them off.
const PTT_TAIL_MS = 300;

const $ = (id) => document.getElementById(id);
const ui = {
  lifecycle: $("lifecycle"),
  connect: $("connect"),
  disconnect: $("disconnect"),
  talk: $("talk"),
  notice: $("notice"),
  secret: $("secret"),
  codec: $("codec"),
  voiceProcessing: $("voice-processing"),
  audio: $("remote-audio"),
  scenario: $("scenario"),
  scenarioRules: $("scenario-rules"),
  textForm: $("text-form"),
  textInput: $("text-input"),
  sendText: $("send-text"),
};
const log = new EventLog($("log"), $("log-summary"));
const transcript = new Transcript($("transcript"));
const latency = new LatencyTable($("latency-body"), $("stage-bars"));
const stats = new StatsPoller(renderStats);
const audioWatch = new AudioWatch();
// Events after which the server may have finished a turn's marks (a call's first
// audio is marked when the track plays it, which may follow response.done).
const MARKS_MAY_CHANGE = new Set([
  "response.done",
  "output_audio_buffer.started",
  "output_audio_buffer.stopped",
  "output_audio_buffer.cleared",
  "conversation.item.input_audio_transcription.completed",
  "conversation.item.input_audio_transcription.failed",
]);
let marksReading = null; // the GET in flight, and whether another is wanted after it
const scenarios = new ScenarioRunner({ transcript, send: null, categories: [] });
let catalog = [];

// Read by tests/web/test_web_console*.py; handy in the browser's devtools too.
const view = {
  state: "closed",
  mode: currentMode(),
  callId: null,
  session: null, // the effective config, from session.created / session.updated
  micStartedAt: null,
  responseActive: false,
  audioPlaying: false,
  counts: log.counts,
  scenario: null, // the picked scenario's name, and its active agent (scenario.js)
  agent: null,
  rules: null, // the server's scenario rules, from /healthz
  scenariosLoaded: false,
  stats: stats.latest,
  latency: latency.turns, // per turn: the page's marks and the server's record (latency.js)
};
window.rtConsole = view;

let call = null;
let talking = false;

function currentMode() {
  return document.querySelector('input[name="turns"]:checked').value;
}

function setState(state, detail = {}) {
  view.state = state;
  ui.lifecycle.textContent = state;
  ui.lifecycle.dataset.state = state;
  const idle = state === "closed" || state === "failed";
  ui.connect.disabled = !idle;
  ui.scenario.disabled = !idle;
  ui.textInput.disabled = ui.sendText.disabled = state !== "connected";
  ui.disconnect.disabled = !(state === "connecting" || state === "connected");
  for (const field of [ui.secret, ui.codec, ui.voiceProcessing]) field.disabled = !idle;
  ui.talk.disabled = !(state === "connected" && view.mode === "push_to_talk");
  log.addNote("console.state", { state, ...detail });
}

async function connect() {
  if (call) return;
  const settings = { mode: currentMode(), codec: ui.codec.value };
  log.restart();
  transcript.clear();
  latency.clear();
  view.latency = latency.turns;
  scenarios.select(catalog.find((s) => s.name === ui.scenario.value) ?? null);
  view.scenario = scenarios.scenario?.name ?? null;
  view.agent = scenarios.agent;
  ui.notice.textContent = "";
  const current = new Call({ onEvent, onTrack, onConnectionState, onChannelClose });
  call = current;
  setState("connecting", settings);
  try {
    const pasted = ui.secret.value.trim();
    // The secret is never logged: the log is meant to be copied into bug reports.
    // A scenario's first agent sets the instructions and tools (scenario.js).
    const config = { ...sessionConfig(settings), ...scenarios.sessionFields() };
    const secret = pasted || (await mintSecret(config));
    log.addNote("console.secret", { source: pasted ? "pasted" : "POST /console/client_secret" });
    await current.open({ secret, codec: settings.codec, voiceProcessing: ui.voiceProcessing.checked });
    // Disconnected while connecting: teardown ran before the mic and the peer
    // connection existed, so close them here or the microphone stays on.
    if (call !== current) return await current.close();
    view.callId = current.callId;
    view.micStartedAt = current.micStartedAt;
    if (pasted) current.send({ type: "session.update", session: config });
    scenarios.send = (event) => current.send(event);
    scenarios.start();
    applyMode(settings.mode);
    stats.start(current.pc);
    setState("connected", { call_id: current.callId });
  } catch (exc) {
    if (call === current) await fail(exc);
    else await current.close();
  }
}

async function disconnect() {
  if (!call) return;
  setState("closing");
  await teardown();
  setState("closed");
}

async function teardown() {
  const current = call;
  call = null;
  talking = false;
  stats.stop();
  audioWatch.stop();
  scenarios.send = null;
  view.responseActive = false;
  view.audioPlaying = false;
  await current?.close();
  ui.audio.srcObject = null;
}

async function fail(exc) {
  const error =
    exc instanceof ConsoleError
      ? exc
      : new ConsoleError(`${exc.name ?? "Error"}: ${exc.message ?? exc}`, { code: exc.name ?? null });
  log.addFailure(error);
  ui.notice.textContent = `${error.category} error: ${error.message}`;
  await teardown();
  setState("failed", { category: error.category, code: error.code });
}

function onEvent(direction, event) {
  log.add(direction, event);
  if (direction !== "in") return;
  transcript.apply(event);
  scenarios.apply(event);
  view.agent = scenarios.agent;
  latency.apply(event);
  if (event.type === "response.created") watchForAudio(event.response?.id);
  // A text-only reply has no audio to hear: stop polling for it.
  if (event.type === "response.done" && !event.response?.output_modalities?.includes("audio")) {
    audioWatch.stop();
  }
  if (MARKS_MAY_CHANGE.has(event.type)) readServerMarks();
  switch (event.type) {
    case "session.created":
    case "session.updated":
      view.session = event.session;
      break;
    case "response.created":
      view.responseActive = true;
      break;
    case "response.done":
      view.responseActive = false;
      break;
    case "output_audio_buffer.started":
      view.audioPlaying = true;
      break;
    case "output_audio_buffer.stopped":
    case "output_audio_buffer.cleared":
      view.audioPlaying = false;
      break;
    default:
  }
}

/** Arm the AudioWatch for the current turn's reply (its first audio heard on the track). */
function watchForAudio(responseId) {
  const turn = latency.awaitingAudio(responseId);
  if (!turn || !call?.pc) return;
  audioWatch.arm(call.pc, (at) => latency.mark(turn, "audio", at));
}

/** GET the call's turn marks; one request at a time, and one more if asked meanwhile. */
async function readServerMarks() {
  if (marksReading) {
    marksReading.again = true;
    return;
  }
  const current = call;
  marksReading = { again: false };
  try {
    const records = await current?.turns();
    if (records && call === current) latency.applyServer(records);
  } catch (exc) {
    // The bars are an extra: say why they are missing, once per call, and go on.
    if (call === current && !current.marksRefused) {
      current.marksRefused = true;
      log.addNote("console.turns", { problem: exc.message ?? String(exc) });
    }
  } finally {
    const again = marksReading.again;
    marksReading = null;
    if (again && call === current) readServerMarks();
  }
}

function onTrack(stream) {
  ui.audio.srcObject = stream;
}

function onConnectionState(state) {
  log.addNote("webrtc.connectionstatechange", { state });
  if (state === "failed" && view.state === "connected") {
    fail(new ConsoleError("The WebRTC connection failed (ICE or DTLS).", { code: "ice_failed" }));
  }
}

function onChannelClose(closed) {
  // Our own disconnect (or a failure) closes the channel too, after `call` was
  // cleared; only the server's hang-up of the current call lands here.
  if (closed !== call || view.state !== "connected") return;
  log.addNote("console.hangup", { reason: "the server closed the oai-events channel" });
  teardown().then(() => setState("closed", { by: "server" }));
}

function applyMode(mode) {
  view.mode = mode;
  // Push to talk sends silence between turns, so the buffer holds only the turn.
  if (call?.mic) call.mic.enabled = mode === "server_vad";
  ui.talk.disabled = !(view.state === "connected" && mode === "push_to_talk");
}

function changeMode() {
  const mode = currentMode();
  if (call && view.state === "connected") {
    call.send({
      type: "session.update",
      session: { type: "realtime", audio: { input: { turn_detection: turnDetection(mode) } } },
    });
  }
  applyMode(mode);
}

function startTalking() {
  if (talking || !call || view.mode !== "push_to_talk" || view.state !== "connected") return;
  talking = true;
  ui.talk.setAttribute("aria-pressed", "true");
  // Barge in: stop the assistant before the new turn starts.
  if (view.responseActive) call.send({ type: "response.cancel" });
  if (view.audioPlaying) call.send({ type: "output_audio_buffer.clear" });
  call.send({ type: "input_audio_buffer.clear" });
  call.mic.enabled = true;
}

async function stopTalking() {
  if (!talking) return;
  talking = false;
  ui.talk.setAttribute("aria-pressed", "false");
  const current = call;
  await new Promise((resolve) => setTimeout(resolve, PTT_TAIL_MS));
  if (!current || call !== current) return;
  current.mic.enabled = view.mode === "server_vad";
  latency.start("push_to_talk");
  current.send({ type: "input_audio_buffer.commit" });
  current.send({ type: "response.create" });
}

function renderStats(figures) {
  view.stats = figures;
  for (const [key, value] of Object.entries(figures)) {
    const cell = $(`stat-${key}`);
    if (!cell) continue;
    // Energies are sums of squared levels (0..1): four decimals say "silent or not".
    const shown = typeof value === "number" && !Number.isInteger(value) ? value.toFixed(4) : value;
    cell.textContent = shown === null ? "\u2014" : String(shown);
  }
}

ui.connect.addEventListener("click", connect);
ui.disconnect.addEventListener("click", disconnect);
for (const radio of document.querySelectorAll('input[name="turns"]')) {
  radio.addEventListener("change", changeMode);
}
ui.talk.addEventListener("pointerdown", startTalking);
for (const type of ["pointerup", "pointerleave", "pointercancel"]) {
  ui.talk.addEventListener(type, stopTalking);
}
ui.talk.addEventListener("keydown", (event) => {
  if ((event.key === " " || event.key === "Enter") && !event.repeat) {
    event.preventDefault();
    startTalking();
  }
});
ui.talk.addEventListener("keyup", (event) => {
  if (event.key === " " || event.key === "Enter") stopTalking();
});
$("clear-log").addEventListener("click", () => log.clear());
ui.textForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.textInput.value.trim();
  if (!text || !call || view.state !== "connected") return;
  call.send({
    type: "conversation.item.create",
    item: { type: "message", role: "user", content: [{ type: "input_text", text }] },
  });
  call.send({ type: "response.create" });
  ui.textInput.value = "";
});

async function showScenarios() {
  const { scenarios: found, categories, health } = await loadScenarios();
  catalog = found;
  scenarios.categories = categories;
  for (const scenario of found) {
    const option = document.createElement("option");
    option.value = scenario.name;
    option.textContent = `${scenario.name} (${scenario.summary})`;
    ui.scenario.append(option);
  }
  const rules = describeRules(health, found);
  ui.scenarioRules.textContent = rules.text;
  if (rules.match) ui.scenario.value = rules.match.name;
  view.rules = health?.scenario_rules ?? null;
  view.scenariosLoaded = true;
}
showScenarios();
// Enter in the secret field would submit the form and reload the page.
$("settings").addEventListener("submit", (event) => event.preventDefault());
setState("closed");
