// The live transcript: one line per conversation item, partial while deltas
// stream, final once the server says the text is complete.

const WHO = { user: "You", assistant: "Assistant", system: "System" };

export class Transcript {
  constructor(list) {
    this.list = list;
    this.lines = new Map(); // item_id -> {element, text}
  }

  clear() {
    this.list.replaceChildren();
    this.lines.clear();
  }

  /** Update from a server event; events that carry no text are ignored. */
  apply(event) {
    const handler = HANDLERS[event.type];
    if (handler) handler(this, event);
  }

  line(itemId, role) {
    let line = this.lines.get(itemId);
    if (!line) {
      const element = document.createElement("li");
      element.className = `line ${role} partial`;
      element.dataset.itemId = itemId;
      element.dataset.role = role;
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = `${WHO[role] ?? role}: `;
      const text = document.createElement("span");
      text.className = "text";
      element.append(who, text);
      this.list.append(element);
      line = { element, text: "", textNode: text };
      this.lines.set(itemId, line);
    }
    return line;
  }

  append(itemId, role, delta) {
    const line = this.line(itemId, role);
    if (line.element.classList.contains("final")) return; // a late delta after done
    line.text += delta;
    line.textNode.textContent = line.text;
  }

  finish(itemId, role, text, { failed = false } = {}) {
    const line = this.line(itemId, role);
    line.text = text;
    line.textNode.textContent = text;
    line.element.classList.replace("partial", failed ? "failed" : "final");
  }

  /** A breadcrumb between the lines (agent switch, tool call, result); see scenario.js. */
  crumb(kind, text, data = {}) {
    const element = document.createElement("li");
    element.className = `crumb ${kind}`;
    element.textContent = text;
    Object.assign(element.dataset, data);
    this.list.append(element);
    return element;
  }

  /** A chip (a guardrail verdict): a crumb that stands out. */
  chip(kind, text, data = {}) {
    const element = this.crumb(`chip ${kind}`, text, data);
    element.setAttribute("role", "status");
    return element;
  }

  /** A tool call waiting for the person at the console: the output to send, approve, reject. */
  approval({ tool, callId, needsApproval, onApprove, onReject }) {
    const element = this.crumb("approval", "", { tool, callId });
    const label = document.createElement("span");
    label.textContent = needsApproval
      ? `${tool} needs approval. Output to send: `
      : `${tool}: answer it here (its Python tool runs only in an agent session). Output: `;
    const output = document.createElement("input");
    output.className = "tool-output";
    output.value = JSON.stringify({ approved: true, by: "console" });
    output.setAttribute("aria-label", `output of ${tool}`);
    const approve = document.createElement("button");
    approve.type = "button";
    approve.className = "approve";
    approve.textContent = "Approve";
    const reject = document.createElement("button");
    reject.type = "button";
    reject.className = "reject";
    reject.textContent = "Reject";
    const decided = (verdict) => {
      for (const control of [output, approve, reject]) control.disabled = true;
      element.dataset.decision = verdict;
    };
    approve.addEventListener("click", () => onApprove(output.value) && decided("approved"));
    reject.addEventListener("click", () => onReject() && decided("rejected"));
    element.append(label, output, approve, reject);
    return element;
  }
}

const HANDLERS = {
  "conversation.item.added": (t, e) => {
    const item = e.item;
    if (item?.type !== "message") return;
    const line = t.line(item.id, item.role);
    const typed = (item.content ?? []).filter((part) => typeof part.text === "string");
    if (typed.length > 0) t.finish(item.id, item.role, typed.map((p) => p.text).join(" "));
    else if (item.role === "user" && !line.text) line.textNode.textContent = "\u2026";
  },
  "conversation.item.input_audio_transcription.delta": (t, e) => t.append(e.item_id, "user", e.delta),
  "conversation.item.input_audio_transcription.completed": (t, e) =>
    t.finish(e.item_id, "user", e.transcript),
  "conversation.item.input_audio_transcription.failed": (t, e) =>
    t.finish(e.item_id, "user", `(transcription failed: ${e.error?.message ?? "unknown"})`, {
      failed: true,
    }),
  "response.output_audio_transcript.delta": (t, e) => t.append(e.item_id, "assistant", e.delta),
  "response.output_audio_transcript.done": (t, e) => t.finish(e.item_id, "assistant", e.transcript),
  "response.output_text.delta": (t, e) => t.append(e.item_id, "assistant", e.delta),
  "response.output_text.done": (t, e) => t.finish(e.item_id, "assistant", e.text),
  "conversation.item.deleted": (t, e) => {
    t.lines.get(e.item_id)?.element.remove();
    t.lines.delete(e.item_id);
  },
};
