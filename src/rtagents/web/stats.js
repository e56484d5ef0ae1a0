// RTP counters from RTCPeerConnection.getStats(): proof that audio really
// flows each way, and with which codec, independent of what events claim.

const POLL_MS = 500;

export const EMPTY_STATS = Object.freeze({
  codecSent: "\u2014",
  codecReceived: "\u2014",
  packetsSent: 0,
  audioEnergySent: 0,
  packetsReceived: 0,
  packetsLost: 0,
  samplesReceived: 0,
  audioEnergyReceived: 0,
  jitterMs: 0,
  roundTripMs: null,
});

export class StatsPoller {
  constructor(render) {
    this.render = render;
    this.timer = null;
    this.latest = { ...EMPTY_STATS };
  }

  start(pc) {
    this.stop();
    this.latest = { ...EMPTY_STATS };
    this.render(this.latest);
    this.timer = setInterval(() => this.poll(pc), POLL_MS);
  }

  stop() {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  async poll(pc) {
    if (pc.connectionState === "closed") return;
    const report = await pc.getStats();
    this.latest = summarize(report);
    this.render(this.latest);
  }
}

/** The audio figures of one getStats() report. */
export function summarize(report) {
  const stats = { ...EMPTY_STATS };
  const codecName = (id) => {
    const codec = id ? report.get(id) : null;
    return codec ? `${codec.mimeType.replace("audio/", "")} ${codec.clockRate} Hz` : "\u2014";
  };
  for (const entry of report.values()) {
    if (entry.type === "outbound-rtp" && entry.kind === "audio") {
      stats.packetsSent = entry.packetsSent ?? 0;
      stats.codecSent = codecName(entry.codecId);
    } else if (entry.type === "media-source" && entry.kind === "audio") {
      // What the microphone delivered: zero here means a silent or muted mic.
      stats.audioEnergySent = entry.totalAudioEnergy ?? 0;
    } else if (entry.type === "inbound-rtp" && entry.kind === "audio") {
      stats.packetsReceived = entry.packetsReceived ?? 0;
      stats.packetsLost = entry.packetsLost ?? 0;
      stats.samplesReceived = entry.totalSamplesReceived ?? 0;
      stats.audioEnergyReceived = entry.totalAudioEnergy ?? 0;
      stats.jitterMs = Math.round((entry.jitter ?? 0) * 1000);
      stats.codecReceived = codecName(entry.codecId);
    } else if (entry.type === "candidate-pair" && entry.nominated && entry.state === "succeeded") {
      const rtt = entry.currentRoundTripTime;
      stats.roundTripMs = rtt === undefined ? null : Math.round(rtt * 1000);
    }
  }
  return stats;
}

// Energy on the received track above this (a sum of squared levels times
// seconds) is audio, not the silence the server's track sends between replies:
// 20 ms of the quietest speech adds ~1e-4, digital silence adds 0.
const HEARD_ENERGY = 1e-5;
const WATCH_EVERY_MS = 20;
const WATCH_LIMIT_MS = 60000;

/**
 * When the assistant's audio is first *heard*: the received track's
 * totalAudioEnergy (measured by the browser at playout) rising after the
 * watch was armed. Polled every 20 ms only while a turn waits for its audio.
 */
export class AudioWatch {
  constructor() {
    this.timer = null;
  }

  arm(pc, onHeard) {
    this.stop();
    let baseline = null;
    const started = performance.now();
    const poll = async () => {
      if (pc.connectionState === "closed" || performance.now() - started > WATCH_LIMIT_MS) {
        return this.stop();
      }
      const energy = summarize(await pc.getStats()).audioEnergyReceived;
      if (this.timer === null) return; // stopped while getStats ran
      if (baseline === null) baseline = energy;
      else if (energy - baseline > HEARD_ENERGY) {
        this.stop();
        onHeard(performance.now());
      }
    };
    this.timer = setInterval(poll, WATCH_EVERY_MS);
    poll();
  }

  stop() {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
