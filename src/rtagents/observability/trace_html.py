"""``rtagents trace --html``: the trace as one self-contained HTML file.

Everything is inline (styles, the SVG plots); the page loads nothing and runs
no script, and its Content-Security-Policy says so, so it can be attached to
a bug report and opened offline. Every string from the recording is escaped.
"""

from __future__ import annotations

from html import escape

from .trace_model import Trace
from .trace_svg import ROWS_SHOWN, legend_html, timeline_svg, waterfall_svg
from .trace_text import waterfall_line

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
svg { background: #fafafa; border: 1px solid #ddd; display: block; }
svg text { font: 11px sans-serif; fill: #333; }
table { border-collapse: collapse; margin-top: 8px; }
td, th { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
.legend span { margin-right: 14px; } .legend i { display: inline-block; width: 12px;
  height: 12px; margin-right: 4px; vertical-align: middle; }
.verdict.failed { color: #c0392b; font-weight: bold; } .verdict.ok { color: #2e8b57; }
code { background: #f4f4f4; padding: 0 3px; }
"""
_POLICY = "default-src 'none'; style-src 'unsafe-inline'"


def render_html(trace: Trace, name: str = "recording") -> str:
    header = trace.header
    facts = (
        f"{escape(str(header.get('side') or '?'))} side · "
        f"{escape(str(header.get('transport') or '?'))} · "
        f"session {escape(str(header.get('session_id') or '?'))} · "
        f"{trace.records} records over {trace.duration:.2f} s"
    )
    verdict = (
        f'<p class="verdict failed">{len(trace.findings)} failure(s), '
        f"{len(trace.anomalies)} ordering anomaly(ies)</p>"
        if trace.failed
        else '<p class="verdict ok">no failures, no ordering anomalies</p>'
    )
    return "".join(
        [
            '<!doctype html><html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">',
            f"<title>rtagents trace: {escape(name)}</title><style>{_STYLE}</style></head><body>",
            f"<h1>rtagents trace: {escape(name)}</h1><p>{facts}</p>{verdict}",
            "<h2>Latency waterfall</h2>",
            _capped(len(trace.turns)),
            waterfall_svg(trace.turns),
            legend_html(),
            "<h2>Timeline</h2>",
            timeline_svg(trace),
            _findings(trace),
            _anomalies(trace),
            _turns(trace),
            "</body></html>\n",
        ]
    )


def _capped(turns: int) -> str:
    if turns <= ROWS_SHOWN:
        return ""
    return f"<p>The plots show the first {ROWS_SHOWN} of {turns} turns; the table lists all.</p>"


def _findings(trace: Trace) -> str:
    if not trace.findings:
        return "<h2>Failures</h2><p>none</p>"
    rows = [
        "<tr>"
        + "".join(
            f"<td>{escape(cell)}</td>"
            for cell in (
                f"{finding.t:.3f} s",
                finding.category,
                finding.code or "",
                f"{finding.what}: {finding.message}",
                finding.rule + (f" — {finding.server_rule}" if finding.server_rule else ""),
                finding.next_step,
                finding.where,
            )
        )
        + "</tr>"
        for finding in trace.findings
    ]
    head = "<tr><th>t</th><th>category</th><th>code</th><th>what</th><th>rule</th>"
    head += "<th>next step</th><th>where</th></tr>"
    return f'<h2>Failures</h2><table id="failures">{head}{"".join(rows)}</table>'


def _anomalies(trace: Trace) -> str:
    if not trace.anomalies:
        return "<h2>Ordering anomalies</h2><p>none</p>"
    rows = [
        f"<tr><td>{a.t:.3f} s</td><td>{escape(a.rule)}</td><td>{escape(a.message)}</td>"
        f"<td>{escape(a.where)}</td></tr>"
        for a in trace.anomalies
    ]
    head = "<tr><th>t</th><th>rule</th><th>what</th><th>where</th></tr>"
    return f'<h2>Ordering anomalies</h2><table id="anomalies">{head}{"".join(rows)}</table>'


def _turns(trace: Trace) -> str:
    rows = []
    for turn in trace.turns:
        responses = "<br>".join(
            escape(
                f"{r.response_id} {r.status or 'never done'}"
                + (f" tools: {', '.join(r.tool_calls)}" if r.tool_calls else "")
            )
            for r in turn.responses
        )
        said = escape(turn.transcript or "")
        rows.append(
            f"<tr><td>{turn.index}</td><td>{escape(turn.kind)}</td><td>{turn.start:.3f} s</td>"
            f"<td>{said}</td><td>{escape(waterfall_line(turn))}</td><td>{responses}</td></tr>"
        )
    head = "<tr><th>turn</th><th>kind</th><th>at</th><th>transcript</th><th>waterfall</th>"
    head += "<th>responses</th></tr>"
    return f'<h2>Turns</h2><table id="turns">{head}{"".join(rows)}</table>'
