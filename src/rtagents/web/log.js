// The event log: every event in and out, with its time, and errors labelled
// with the category that says which part failed.

import { classifyError, errorOf } from "./errors.js";

const MAX_ENTRIES = 1000; // keeps a long session's DOM bounded; older entries drop
const ARROWS = { in: "\u2190 in", out: "\u2192 out", local: "\u2022 local" };

export class EventLog {
  constructor(list, summary) {
    this.list = list;
    this.summary = summary;
    this.t0 = performance.now();
    this.counts = {};
    this.errors = 0;
  }

  restart() {
    this.t0 = performance.now();
  }

  clear() {
    this.list.replaceChildren();
  }

  /** One event; `direction` is "in" (server), "out" (this page) or "local". */
  add(direction, event) {
    this.counts[event.type] = (this.counts[event.type] ?? 0) + 1;
    const error = errorOf(event);
    const category = error ? classifyError(error.type ?? null, error.code ?? null) : null;
    this.append(direction, event.type, event, error && { category, ...error });
  }

  /** A failure of the console itself, already classified (ConsoleError). */
  addFailure(exc) {
    const error = { category: exc.category ?? "connection", code: exc.code, message: exc.message };
    this.append("local", "console.failure", { message: exc.message, code: exc.code }, error);
  }

  /** A note from the page (state changes, settings applied). */
  addNote(type, detail) {
    this.append("local", type, detail, null, Object.values(detail).join(" "));
  }

  append(direction, type, payload, error, note = "") {
    const seconds = ((performance.now() - this.t0) / 1000).toFixed(3);
    const item = document.createElement("li");
    item.className = `entry ${direction}`;
    item.dataset.type = type;
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.append(span("time", `+${seconds} s`), span("dir", ARROWS[direction]), span("type", type));
    if (note) summary.append(span("note", note));
    if (error) {
      this.errors += 1;
      item.classList.add("error");
      item.dataset.category = error.category;
      summary.append(span(`category ${error.category}`, error.category));
      const code = error.code ? `[${error.code}] ` : "";
      summary.append(span("message", `${code}${error.message ?? ""}`));
    }
    details.append(summary);
    // Pretty-printing waits until someone opens the entry: most never are.
    details.addEventListener(
      "toggle",
      () => {
        const pre = document.createElement("pre");
        pre.textContent = JSON.stringify(payload, null, 2);
        details.append(pre);
      },
      { once: true },
    );
    item.append(details);
    // Follow new entries only while the reader is at the bottom of the log.
    const list = this.list;
    const following = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.append(item);
    while (list.childElementCount > MAX_ENTRIES) list.firstElementChild.remove();
    if (following) list.scrollTop = list.scrollHeight;
    this.summary.textContent = `${list.childElementCount} shown, ${this.errors} errors`;
  }
}

function span(className, text) {
  const element = document.createElement("span");
  element.className = className;
  element.textContent = text;
  return element;
}
