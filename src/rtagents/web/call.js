// One WebRTC call to the server: microphone up, assistant audio down, events
// as raw JSON on the `oai-events` data channel (the hosted API's browser flow).

import { ConsoleError } from "./errors.js";
import { CODEC_MIME } from "./session.js";

const CALLS_PATH = "/v1/realtime/calls";
const SECRET_PATH = "/console/client_secret";
const TURNS_PATH = (callId) => `/console/calls/${encodeURIComponent(callId)}/turns`;
// Host candidates on loopback gather in milliseconds; this only bounds a stuck gatherer.
const ICE_GATHER_LIMIT_MS = 3000;
const CHANNEL_OPEN_LIMIT_MS = 15000;

/** An ek_ secret from this server; the API key never leaves it. */
export async function mintSecret(session) {
  const response = await fetch(SECRET_PATH, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ session }),
  });
  if (!response.ok) throw await ConsoleError.fromResponse("Minting a client secret", response);
  return (await response.json()).value;
}

export class Call {
  constructor({ onEvent, onTrack, onConnectionState, onChannelClose }) {
    this.onEvent = onEvent;
    this.onTrack = onTrack;
    this.onConnectionState = onConnectionState;
    this.onChannelClose = onChannelClose;
    this.pc = null;
    this.channel = null;
    this.mic = null;
    this.callId = null;
    this.secret = null; // kept to read the call's turn marks; never logged
  }

  /** Microphone, offer, SDP exchange with `secret`, then wait for the data channel. */
  async open({ secret, codec, voiceProcessing }) {
    const processing = Boolean(voiceProcessing);
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: {
        echoCancellation: processing,
        noiseSuppression: processing,
        autoGainControl: processing,
      },
    });
    this.mic = stream.getAudioTracks()[0];
    this.micStartedAt = performance.now();
    // No ICE servers: the default would contact a public STUN host.
    const pc = new RTCPeerConnection({ iceServers: [] });
    this.pc = pc;
    pc.addEventListener("connectionstatechange", () => this.onConnectionState(pc.connectionState));
    pc.addEventListener("track", (event) => this.onTrack(event.streams[0] ?? new MediaStream([event.track])));
    const transceiver = pc.addTransceiver(this.mic, { direction: "sendrecv", streams: [stream] });
    preferCodec(transceiver, codec);
    this.channel = pc.createDataChannel("oai-events");
    this.channel.addEventListener("message", (message) => this.receive(message.data));
    this.channel.addEventListener("close", () => this.onChannelClose(this));
    await pc.setLocalDescription(await pc.createOffer());
    await iceGathered(pc);
    const answer = await this.exchange(secret, pc.localDescription.sdp);
    await pc.setRemoteDescription({ type: "answer", sdp: answer });
    await channelOpen(this.channel, pc);
  }

  async exchange(secret, offer) {
    const response = await fetch(CALLS_PATH, {
      method: "POST",
      headers: { Authorization: `Bearer ${secret}`, "Content-Type": "application/sdp" },
      body: offer,
    });
    if (response.status !== 201) {
      throw await ConsoleError.fromResponse("The SDP offer", response);
    }
    const location = response.headers.get("Location") ?? "";
    this.callId = location.split("/").pop() || null;
    this.secret = secret;
    return response.text();
  }

  /** The server's latency marks of this call's recent turns (console_turns.py), or null. */
  async turns() {
    if (!this.callId || !this.secret) return null;
    const response = await fetch(TURNS_PATH(this.callId), {
      headers: { Authorization: `Bearer ${this.secret}` },
      cache: "no-store",
    });
    if (!response.ok) throw await ConsoleError.fromResponse("Reading the turn marks", response);
    return (await response.json()).turns;
  }

  receive(data) {
    let event;
    try {
      event = JSON.parse(data);
    } catch {
      event = { type: "(not JSON)", raw: String(data) };
    }
    // Shown, not dropped: a malformed frame is exactly what a debugging console is for.
    if (typeof event?.type !== "string") event = { type: "(no type)", raw: event };
    this.onEvent("in", event);
  }

  /** Send a client event; returns false when the channel is not open. */
  send(event) {
    if (this.channel?.readyState !== "open") return false;
    try {
      this.channel.send(JSON.stringify(event));
    } catch {
      return false; // closing under us, or its send buffer is full
    }
    this.onEvent("out", event);
    return true;
  }

  /** Close the data channel first (the server sees a clean hang-up), then the rest. */
  async close(limitMs = 1000) {
    const channel = this.channel;
    if (channel && channel.readyState !== "closed") {
      const closed = new Promise((resolve) => {
        channel.addEventListener("close", resolve, { once: true });
        setTimeout(resolve, limitMs);
      });
      channel.close();
      await closed;
    }
    this.pc?.close();
    this.mic?.stop();
  }
}

function preferCodec(transceiver, codec) {
  const mime = CODEC_MIME[codec].toLowerCase();
  const codecs = RTCRtpReceiver.getCapabilities("audio").codecs;
  const chosen = codecs.filter((c) => c.mimeType.toLowerCase() === mime);
  if (chosen.length === 0) {
    throw new ConsoleError(`This browser cannot send ${CODEC_MIME[codec]}.`, {
      category: "connection",
      code: "codec_unavailable",
    });
  }
  // Only the chosen codec is offered, so what is picked is what runs (or the call fails).
  transceiver.setCodecPreferences(chosen);
}

function iceGathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    };
    pc.addEventListener("icegatheringstatechange", done);
    // The offer goes with what was gathered: the calls endpoint takes no trickled candidates.
    setTimeout(resolve, ICE_GATHER_LIMIT_MS);
  });
}

function channelOpen(channel, pc) {
  if (channel.readyState === "open") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(
        new ConsoleError(
          `The oai-events data channel did not open within ${CHANNEL_OPEN_LIMIT_MS / 1000} s ` +
            `(ICE ${pc.iceConnectionState}, connection ${pc.connectionState}).`,
          { code: "channel_timeout" },
        ),
      );
    }, CHANNEL_OPEN_LIMIT_MS);
    channel.addEventListener("open", () => {
      clearTimeout(timer);
      resolve();
    });
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState !== "failed") return;
      clearTimeout(timer);
      reject(new ConsoleError("ICE/DTLS failed before the data channel opened.", { code: "ice_failed" }));
    });
  });
}
