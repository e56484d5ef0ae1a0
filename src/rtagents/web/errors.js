// The error taxonomy of rtagents.protocol.errors, ported so that the console
// labels an error exactly as the Python SDK's log line would: which part
// failed (connection / protocol / model / tool). tests/web/test_web_console.py
// checks this table against classify_error_payload case by case.

const MODEL_CODES = new Set(["rate_limit_exceeded", "model_not_found", "engine_failure"]);
const CONNECTION_CODES = new Set([
  "session_expired",
  "invalid_api_key",
  "invalid_client_secret",
  "session_closed",
  "webrtc_connection_failed",
  // A relay's upstream (docs/relay.md): lost mid-response, being rebuilt, unreachable.
  "upstream_connection_lost",
  "upstream_reconnecting",
  "upstream_unavailable",
]);
const TOOL_CODES = new Set(["tool_timeout", "tool_failed", "unknown_tool"]);
const SERVER_SIDE_TYPES = new Set(["server_error", "api_error", "model_error"]);

/** Category of a wire `error` payload, from its `type` and `code`. */
export function classifyError(type, code) {
  if (CONNECTION_CODES.has(code)) return "connection";
  if (TOOL_CODES.has(code)) return "tool";
  if (MODEL_CODES.has(code) || SERVER_SIDE_TYPES.has(type)) return "model";
  return "protocol";
}

/** The error payload an event carries, if it reports a failure. */
export function errorOf(event) {
  if (event.type === "error" || event.type.endsWith(".failed")) {
    return event.error ?? { type: null, code: null, message: "(no error details)" };
  }
  if (event.type === "response.done" && event.response?.status === "failed") {
    const details = event.response.status_details?.error;
    return details ?? { type: "server_error", code: null, message: "response failed" };
  }
  return null;
}

/** A failure of the console itself (minting, SDP exchange, ICE), with its category. */
export class ConsoleError extends Error {
  constructor(message, { category = "connection", code = null } = {}) {
    super(message);
    this.category = category;
    this.code = code;
  }

  /** From an HTTP refusal: its JSON `error` body is classified like a wire error. */
  static async fromResponse(what, response) {
    let error = null;
    try {
      error = (await response.json()).error ?? null;
    } catch {
      // Not JSON (a proxy's page, say): the status line is all there is.
    }
    const message = error?.message ?? response.statusText;
    const http = response.status;
    // Authentication and routing failures are about reaching the server.
    const category =
      http === 401 || http === 403 || http === 404 || http >= 500
        ? "connection"
        : classifyError(error?.type ?? null, error?.code ?? null);
    return new ConsoleError(`${what} failed (HTTP ${http}): ${message}`, {
      category,
      code: error?.code ?? null,
    });
  }
}
