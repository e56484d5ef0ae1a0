// Scenarios in the console: the picker, the active agent and its handoffs, tool
// calls answered by the person at the console (approve / reject), and the brand
// guardrail's verdict. The agents' Python tools, approvals and guardrails run in
// a Python AgentSession (`rtagents demo --scenario`, examples/); this page has
// no Python, so it plays that role by hand: handoffs are applied at once, every
// other tool call waits for the person to approve it (with the output they
// type) or reject it, and the guardrail's keyword rules are checked on each
// reply and shown as a chip (observe only: the reply is not stopped here).

const CATALOG_PATH = "/console/scenarios.json";
const GUARDRAIL_STOP = "stopped by the output guardrail";

/** The scenario catalogue and the server's health (which rules file it runs). */
export async function loadScenarios() {
  const [catalog, health] = await Promise.all([fetchJson(CATALOG_PATH), fetchJson("/healthz")]);
  return { scenarios: catalog?.scenarios ?? [], categories: catalog?.guardrail_categories ?? [], health };
}

async function fetchJson(path) {
  try {
    const response = await fetch(path, { cache: "no-store" });
    // /healthz answers 503 while warming, with the same body: still worth reading.
    return await response.json();
  } catch {
    return null;
  }
}

/** The server's rules as one line, and the scenario whose rules file it runs (if any). */
export function describeRules(health, scenarios) {
  const rules = health?.scenario_rules;
  if (!rules?.file) return { text: "Server rules: none (the model chooses tools)", match: null };
  const file = rules.file.split(/[\\/]/).pop();
  const folder = rules.file.split(/[\\/]/).slice(-2, -1)[0];
  const match = scenarios.find((s) => s.rules_file === file || s.name === folder) ?? null;
  const state = rules.active ? "active" : `not used: ${rules.note ?? "off"}`;
  return { text: `Server rules: ${rules.file} (${rules.rules} rules, ${state}; ${rules.note ?? ""})`, match };
}

/** Same verdicts as rtagents.scenarios.brand_guardrail.classify (a test checks). */
export function classify(text, categories) {
  for (const [label, words] of categories) {
    const escaped = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    const found = new RegExp(`(?<!\\w)(?:${escaped.join("|")})(?!\\w)`, "i").exec(text);
    if (found) return { label, matched: found[0] };
  }
  return { label: "NONE", matched: null };
}

export class ScenarioRunner {
  constructor({ transcript, send, categories }) {
    this.transcript = transcript;
    this.send = send; // (event) => void, or null while disconnected
    this.categories = categories;
    this.scenario = null;
    this.agent = null;
    this.responseActive = false;
    this.owed = false; // a response.create is due once the current response is done
    this.answered = new Set(); // call_ids already answered (a call is answered once)
    this.pending = new Map(); // call_id -> prompt element
  }

  select(scenario) {
    this.scenario = scenario;
    this.agent = scenario ? scenario.start : null;
    this.answered.clear();
    this.pending.clear();
  }

  get current() {
    return this.scenario && this.agent ? this.scenario.agents[this.agent] : null;
  }

  /** What the active agent sets in the session (nothing without a scenario). */
  sessionFields() {
    const agent = this.current;
    if (!agent) return {};
    return { instructions: agent.instructions, tools: agent.tools, tool_choice: "auto" };
  }

  start() {
    if (this.scenario) this.transcript.crumb("agent", `agent: ${this.agent}`, { agent: this.agent });
  }

  apply(event) {
    switch (event.type) {
      case "response.created":
        this.responseActive = true;
        break;
      case "response.done":
        this.responseActive = false;
        this.respondIfOwed();
        break;
      case "response.output_item.done":
        if (event.item?.type === "function_call") this.onCall(event.item);
        break;
      case "conversation.item.added":
        this.onItem(event.item ?? {});
        break;
      case "response.output_audio_transcript.done":
        this.checkGuardrails(event.transcript ?? "", event.item_id);
        break;
      case "response.output_text.done":
        this.checkGuardrails(event.text ?? "", event.item_id);
        break;
      default:
    }
  }

  onCall(item) {
    if (this.answered.has(item.call_id) || this.pending.has(item.call_id)) return;
    const agent = this.current;
    const target = agent?.handoffs?.[item.name];
    if (target) return this.handoff(item, target);
    const needsApproval = Boolean(agent?.needs_approval?.includes(item.name));
    this.transcript.crumb("tool", `tool: ${item.name}(${item.arguments ?? ""})`, { tool: item.name });
    const prompt = this.transcript.approval({
      tool: item.name,
      callId: item.call_id,
      needsApproval,
      onApprove: (output) => this.answer(item.call_id, output),
      onReject: () => this.answer(item.call_id, JSON.stringify({ error: "rejected by the console user" })),
    });
    this.pending.set(item.call_id, prompt);
  }

  handoff(item, target) {
    const from = this.agent;
    this.agent = target;
    this.answered.add(item.call_id);
    this.transcript.crumb("tool", `tool: ${item.name}()`, { tool: item.name });
    this.transcript.crumb("agent", `agent: ${from} \u2192 ${target}`, { agent: target, from });
    this.send?.({
      type: "conversation.item.create",
      item: { type: "function_call_output", call_id: item.call_id, output: JSON.stringify({ assistant: target }) },
    });
    // One session.update swaps instructions and tools; audio formats stay as they are.
    this.send?.({ type: "session.update", session: { type: "realtime", ...this.sessionFields() } });
    this.owe();
  }

  answer(callId, output) {
    if (this.answered.has(callId) || !this.send) return false;
    this.answered.add(callId);
    this.pending.delete(callId);
    this.send({ type: "conversation.item.create", item: { type: "function_call_output", call_id: callId, output } });
    this.owe();
    return true;
  }

  owe() {
    this.owed = true;
    this.respondIfOwed();
  }

  respondIfOwed() {
    // A response.create while one is active is refused: wait for its response.done.
    if (!this.owed || this.responseActive || this.pending.size > 0 || !this.send) return;
    this.owed = false;
    this.send({ type: "response.create" });
  }

  onItem(item) {
    if (item.type === "function_call_output") {
      this.transcript.crumb("result", `result: ${item.output ?? ""}`, { callId: item.call_id });
    } else if (item.type === "message" && item.role === "system") {
      const text = (item.content ?? []).map((p) => p.text ?? "").join(" ");
      if (text.includes(GUARDRAIL_STOP)) this.transcript.chip("guardrail", text, { source: "agent session" });
    }
  }

  checkGuardrails(text, itemId) {
    const agent = this.current;
    for (const name of agent?.guardrails ?? []) {
      const verdict = classify(text, this.categories);
      if (verdict.label === "NONE") continue;
      this.transcript.chip("guardrail", `${name}: ${verdict.label} ("${verdict.matched}")`, {
        guardrail: name,
        label: verdict.label,
        itemId: itemId ?? "",
      });
    }
  }
}
