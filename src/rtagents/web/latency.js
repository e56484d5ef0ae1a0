// Per-turn latency, measured where the user sits: from the end of the user's
// speech (the server's speech_stopped, or the push-to-talk commit) to the
// user's final transcript, the assistant's first words, and its first audio.

// The table's columns after "Turn" and "Ends at" (index.html holds the headers).
const MILESTONES = ["transcript", "text", "audio"];

export class LatencyTable {
  constructor(body) {
    this.body = body;
    this.turns = [];
    this.current = null;
  }

  clear() {
    this.body.replaceChildren();
    this.turns = [];
    this.current = null;
  }

  /** A turn ends: `itemId` is known for server VAD, and arrives with `committed` for push to talk. */
  start(source, itemId = null) {
    const turn = { n: this.turns.length + 1, source, itemId, t0: performance.now(), marks: {} };
    this.turns.push(turn);
    this.current = turn;
    this.render(turn);
  }

  apply(event) {
    const turn = this.current;
    switch (event.type) {
      case "input_audio_buffer.speech_stopped":
        this.start("speech_stopped", event.item_id);
        return;
      case "input_audio_buffer.committed":
        if (turn && turn.itemId === null) turn.itemId = event.item_id;
        return;
      case "conversation.item.input_audio_transcription.completed": {
        const owner = this.turns.find((t) => t.itemId === event.item_id);
        if (owner) this.mark(owner, "transcript");
        return;
      }
      case "response.output_audio_transcript.delta":
      case "response.output_text.delta":
        if (turn) this.mark(turn, "text");
        return;
      case "output_audio_buffer.started":
        if (turn) this.mark(turn, "audio");
        return;
      default:
    }
  }

  mark(turn, name) {
    if (name in turn.marks) return; // the first one counts
    turn.marks[name] = performance.now() - turn.t0;
    this.render(turn);
  }

  render(turn) {
    let row = this.body.querySelector(`tr[data-turn="${turn.n}"]`);
    if (!row) {
      row = document.createElement("tr");
      row.dataset.turn = String(turn.n);
      this.body.append(row);
    }
    const cells = [`${turn.n}`, turn.source];
    for (const name of MILESTONES) {
      const ms = turn.marks[name];
      cells.push(ms === undefined ? "\u2014" : `${Math.round(ms)} ms`);
    }
    row.replaceChildren(
      ...cells.map((text, i) => {
        const cell = document.createElement(i === 0 ? "th" : "td");
        if (i === 0) cell.scope = "row";
        cell.textContent = text;
        return cell;
      }),
    );
  }
}
