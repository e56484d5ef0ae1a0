// Per-turn latency, two ways. The table is measured where the user sits: from
// the end of the user's speech (the server's speech_stopped, or the
// push-to-talk commit) to the user's final transcript, the assistant's first
// text delta, and its first audio *heard* (energy on the received track, see
// stats.js AudioWatch). The bars under it are the server's own marks (GET
// /console/calls/{id}/turns, see docs/console.md): where the time went inside
// the server, the first LLM token included, which no event shows.

// The table's columns after "Turn" and "Ends at" (index.html holds the headers).
const MILESTONES = ["transcript", "text", "audio"];
// The server's stages, in pipeline order (server/local/turn_marks.py STAGES).
export const STAGES = ["transcript_final", "first_token", "first_text", "first_audio", "done"];
const STAGE_LABELS = {
  transcript_final: "transcript",
  first_token: "first LLM token",
  first_text: "first text",
  first_audio: "first audio out",
  done: "response.done",
  heard: "heard here",
};
const ORIGINS = {
  speech_stopped: "speech stopped",
  committed: "commit",
  response_created: "response.created",
};
const TURNS_KEPT = 100; // a long session must not grow the page without bound

export class LatencyTable {
  constructor(body, bars) {
    this.body = body;
    this.bars = bars;
    this.turns = [];
    this.current = null;
  }

  clear() {
    this.body.replaceChildren();
    this.bars.replaceChildren();
    this.turns = [];
    this.current = null;
  }

  /** A turn ends: `itemId` is known for server VAD, and arrives with `committed` for push to talk. */
  start(source, itemId = null) {
    const turn = {
      n: (this.turns.at(-1)?.n ?? 0) + 1,
      source,
      itemId,
      responseId: null,
      t0: performance.now(),
      marks: {},
      server: null,
    };
    this.turns.push(turn);
    if (this.turns.length > TURNS_KEPT) this.forget(this.turns.shift());
    this.current = turn;
    this.render(turn);
  }

  forget(turn) {
    this.body.querySelector(`tr[data-turn="${turn.n}"]`)?.remove();
    this.bars.querySelector(`figure[data-turn="${turn.n}"]`)?.remove();
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
      case "response.created":
        if (turn && turn.responseId === null) turn.responseId = event.response?.id ?? null;
        return;
      case "conversation.item.input_audio_transcription.completed": {
        const owner = this.turns.find((t) => t.itemId === event.item_id);
        if (owner) this.mark(owner, "transcript");
        return;
      }
      case "response.output_audio_transcript.delta":
      case "response.output_text.delta":
        if (turn && event.response_id === turn.responseId) this.mark(turn, "text");
        return;
      default:
    }
  }

  /** The turn whose reply audio is still to be heard (the AudioWatch is armed for it). */
  awaitingAudio(responseId) {
    const turn = this.current;
    return turn && turn.responseId === responseId && !("audio" in turn.marks) ? turn : null;
  }

  mark(turn, name, at = performance.now()) {
    if (name in turn.marks) return; // the first one counts
    turn.marks[name] = at - turn.t0;
    this.render(turn);
  }

  /** The server's records (TurnMarks.summary()), matched to this page's turns. */
  applyServer(records) {
    for (const record of records) {
      const turn = this.turns.find(
        (t) =>
          (record.response_id !== null && t.responseId === record.response_id) ||
          (record.item_id !== null && t.itemId === record.item_id && t.server === null),
      );
      if (!turn || sameRecord(turn.server, record)) continue;
      turn.server = record;
      this.renderBars(turn);
    }
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
    if (turn.server) this.renderBars(turn);
  }

  /** One figure per turn: a bar per server stage from the turn's end, and the page's "heard". */
  renderBars(turn) {
    const record = turn.server;
    const rows = STAGES.map((stage) => ({
      stage,
      ms: record.stages_ms[stage],
      why: record.absent[stage] ?? (record.status === null ? "not yet" : "not reached"),
      source: "server",
    }));
    if (turn.marks.audio !== undefined) {
      rows.push({ stage: "heard", ms: turn.marks.audio, why: "", source: "page" });
    }
    const scale = Math.max(1, ...rows.map((r) => r.ms ?? 0));
    const figure = document.createElement("figure");
    figure.className = "turn-stages";
    figure.dataset.turn = String(turn.n);
    figure.dataset.origin = record.origin ?? "";
    const caption = document.createElement("figcaption");
    const kind = record.turn ?? "no voice turn";
    caption.textContent =
      `Turn ${turn.n} (${kind}, ${record.transport ?? "?"}, ${record.status ?? "in progress"}): ` +
      `ms after ${ORIGINS[record.origin] ?? "?"}`;
    figure.append(caption, ...rows.map((row) => stageRow(row, scale)));
    const old = this.bars.querySelector(`figure[data-turn="${turn.n}"]`);
    if (old) old.replaceWith(figure);
    else this.bars.append(figure);
  }
}

function stageRow({ stage, ms, why, source }, scale) {
  const row = document.createElement("div");
  row.className = `stage ${source}`;
  row.dataset.stage = stage;
  const label = document.createElement("span");
  label.className = "label";
  label.textContent = STAGE_LABELS[stage];
  const track = document.createElement("span");
  track.className = "track";
  const value = document.createElement("span");
  value.className = "value";
  if (ms === null || ms === undefined) {
    row.classList.add("absent");
    value.textContent = `absent: ${why}`;
  } else {
    row.dataset.ms = String(ms);
    const bar = document.createElement("span");
    bar.className = "bar";
    // CSSOM, not a style attribute: the page's CSP allows no inline styles.
    bar.style.width = `${(Math.max(0, ms) / scale) * 100}%`;
    track.append(bar);
    value.textContent = `${Math.round(ms)} ms`;
  }
  row.append(label, track, value);
  return row;
}

function sameRecord(a, b) {
  return a !== null && JSON.stringify(a) === JSON.stringify(b);
}
