"""The trace as text for a terminal: turns with their waterfall, failures, anomalies."""

from __future__ import annotations

from .trace_model import STAGES, Anomaly, FailureFinding, ResponseSpan, Trace, Turn

STAGE_LABELS = {
    "transcript": "transcript",
    "first_token": "first token",
    "first_text": "first text",
    "first_audio": "first audio",
    "done": "done",
}
ANCHOR_LABELS = {
    "voice": "speech stopped",
    "push_to_talk": "commit",
    "text": "user message",
    "response_only": "response created",
}


def render_text(trace: Trace, name: str = "recording") -> str:
    lines = [_title(trace, name), ""]
    lines += _turns(trace.turns)
    lines += _findings(trace.findings)
    lines += _anomalies(trace.anomalies)
    if trace.unreadable_count:
        lines.append(f"Unreadable lines ({trace.unreadable_count}, not analysed)")
        lines += [f"  {line}" for line in trace.unreadable]
        lines.append("")
    if trace.not_listed:
        lines.append(f"({trace.not_listed} more findings, anomalies or turns past the caps)")
    lines.append(_verdict(trace))
    return "\n".join(lines) + "\n"


def _title(trace: Trace, name: str) -> str:
    header = trace.header
    facts = [
        f"{header.get('side') or '?'} side",
        str(header.get("transport") or "?"),
        f"session {header.get('session_id') or '?'}",
        f"{trace.records} records over {trace.duration:.2f} s",
    ]
    return f"rtagents trace: {name} ({', '.join(facts)})"


def _turns(turns: list[Turn]) -> list[str]:
    if not turns:
        return ["Turns: none", ""]
    lines = [f"Turns ({len(turns)})"]
    for turn in turns:
        said = f'  "{_cut(turn.transcript, 60)}"' if turn.transcript else ""
        lines.append(f"  turn {turn.index}  {turn.kind}  at {turn.start:.3f} s{said}")
        lines.append(f"    waterfall: {waterfall_line(turn)}")
        lines += [f"    {_response(span)}" for span in turn.responses]
    lines.append("")
    return lines


def waterfall_line(turn: Turn) -> str:
    """``speech stopped → transcript 120 ms → first token — → ...`` ('—': never happened)."""
    if turn.anchor is None:
        return "no anchor (the turn never finished its input)"
    parts = [ANCHOR_LABELS.get(turn.kind, "start")]
    for stage, ms in turn.waterfall().items():
        shown = "—" if ms is None else f"{ms:,.0f} ms"
        parts.append(f"{STAGE_LABELS[stage]} {shown}")
    return " → ".join(parts)


def _response(span: ResponseSpan) -> str:
    end = f"{span.done:.3f} s" if span.done is not None else "never done"
    line = f"response {span.response_id}  {span.created:.3f} → {end}  {span.status or 'open'}"
    extras = [f"{span.events} events"]
    if span.first_text is not None:
        extras.append(f"first text +{(span.first_text - span.created) * 1000:,.0f} ms")
    if span.first_audio is not None:
        extras.append(f"first audio +{(span.first_audio - span.created) * 1000:,.0f} ms")
    if span.tool_calls:
        extras.append("tools: " + ", ".join(span.tool_calls))
    return f"{line}  ({'; '.join(extras)})"


def _findings(findings: list[FailureFinding]) -> list[str]:
    if not findings:
        return ["Failures: none", ""]
    lines = [f"Failures ({len(findings)})"]
    for finding in findings:
        code = f" [{finding.code}]" if finding.code else ""
        lines.append(
            f"  {finding.category}:{code} {finding.what}  (t={finding.t:.3f} s, {finding.where})"
        )
        lines.append(f"    message: {_cut(finding.message, 300)}")
        lines.append(f"    rule:    {finding.rule}")
        if finding.server_rule:
            lines.append(f"    server rule: {finding.server_rule}")
        lines.append(f"    next:    {finding.next_step}")
    lines.append("")
    return lines


def _anomalies(anomalies: list[Anomaly]) -> list[str]:
    if not anomalies:
        return ["Ordering anomalies: none", ""]
    lines = [f"Ordering anomalies ({len(anomalies)})"]
    for anomaly in anomalies:
        lines.append(f"  {anomaly.rule}: {anomaly.message}  (t={anomaly.t:.3f} s, {anomaly.where})")
    lines.append("")
    return lines


def _verdict(trace: Trace) -> str:
    if not trace.failed:
        return "Result: no failures, no ordering anomalies"
    return (
        f"Result: {len(trace.findings)} failure(s), {len(trace.anomalies)} ordering anomaly(ies)"
        " (exit status 1)"
    )


def _cut(value: str, limit: int) -> str:
    flat = " ".join(value.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


__all__ = ["STAGES", "render_text", "waterfall_line"]
