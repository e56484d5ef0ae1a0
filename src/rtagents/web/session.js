// What the console asks of a session, from the settings form, in the GA shape.

/** RTP codec name (as in SDP) -> its MIME type in RTCRtpReceiver capabilities. */
export const CODEC_MIME = { opus: "audio/opus", pcmu: "audio/PCMU", pcma: "audio/PCMA" };

/**
 * The session audio format that matches the codec on the wire: G.711 calls
 * declare G.711 (8 kHz) audio; an Opus call carries the 24 kHz pcm the
 * session works in, as on the hosted API.
 */
export function audioFormat(codec) {
  return codec === "opus" ? { type: "audio/pcm", rate: 24000 } : { type: `audio/${codec}` };
}

/** turn_detection for a mode: server VAD, or null (push to talk: the page commits). */
export function turnDetection(mode) {
  return mode === "server_vad" ? { type: "server_vad" } : null;
}

/** The session config minted into the secret (and sent again to a pasted secret). */
export function sessionConfig({ mode, codec }) {
  const format = audioFormat(codec);
  return {
    type: "realtime",
    audio: {
      input: {
        format,
        transcription: { model: "whisper-1" },
        turn_detection: turnDetection(mode),
      },
      output: { format },
    },
  };
}
