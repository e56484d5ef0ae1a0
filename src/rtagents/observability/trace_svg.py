"""The trace's two plots as inline SVG: each turn's latency waterfall, and the session timeline.

Drawn here, in Python, so the HTML report needs no script, no font and no
network to show them: a browser opened offline (or with scripts off) renders
them as they are. Rectangles sit on whole pixels so a bar is painted in its
exact colour, which is what the browser test looks for.
"""

from __future__ import annotations

from html import escape
from typing import Final

from .trace_model import STAGES, Trace, Turn

WIDTH: Final = 960
LEFT: Final = 150  # room for the row labels
ROW: Final = 24
ROWS_SHOWN: Final = 200
STAGE_COLOURS: Final = {
    "transcript": "#3b6fb6",
    "first_token": "#8e44ad",
    "first_text": "#2e8b57",
    "first_audio": "#d98c00",
    "done": "#c0392b",
}
STATUS_COLOURS: Final = {
    "completed": "#2e8b57",
    "cancelled": "#7f8c8d",
    "incomplete": "#d98c00",
    "failed": "#c0392b",
    None: "#95a5a6",
}
CATEGORY_COLOURS: Final = {
    "connection": "#1f4e79",
    "protocol": "#c0392b",
    "model": "#8e44ad",
    "tool": "#d98c00",
}
ANOMALY_COLOUR: Final = "#e67e22"


def waterfall_svg(turns: list[Turn]) -> str:
    """One row per turn: a segment from each stage to the next, from the anchor at 0 ms."""
    rows = [turn for turn in turns if turn.anchor is not None][:ROWS_SHOWN]
    longest = max((_last_ms(turn) for turn in rows), default=0.0)
    scale = _Scale(longest or 1000.0)
    height = 30 + ROW * max(len(rows), 1) + 40
    parts = [_svg_open("waterfall", height, "latency waterfall of each turn")]
    parts += scale.axis(height - 40, "ms after the user finished")
    for row, turn in enumerate(rows):
        y = 30 + row * ROW
        parts.append(_label(y, f"turn {turn.index} · {turn.kind}"))
        start = 0.0
        for stage, ms in turn.waterfall().items():
            if ms is None or ms < start:
                continue
            parts.append(
                _bar(scale.x(start), scale.x(ms), y, STAGE_COLOURS[stage], f"{stage} {ms:,.0f} ms")
            )
            start = ms
    if not rows:
        parts.append(_label(30, "no turn with an anchor"))
    parts.append("</svg>")
    return "".join(parts)


def timeline_svg(trace: Trace) -> str:
    """One row per turn on the session clock: response bars by status, failures as ticks."""
    turns = trace.turns[:ROWS_SHOWN]
    scale = _Scale(max(trace.duration, 0.001), seconds=True)
    height = 30 + ROW * (len(turns) + 1) + 40
    parts = [_svg_open("timeline", height, "timeline of the session")]
    parts += scale.axis(height - 40, "seconds since the recording started")
    parts.append(_label(30, "failures"))
    for finding in trace.findings:
        colour = CATEGORY_COLOURS.get(finding.category, "#000000")
        parts.append(_tick(scale.x(finding.t), 30, colour, f"{finding.category}: {finding.what}"))
    for anomaly in trace.anomalies:
        parts.append(
            _tick(scale.x(anomaly.t), 30, ANOMALY_COLOUR, f"{anomaly.rule}: {anomaly.message}")
        )
    for row, turn in enumerate(turns, start=1):
        y = 30 + row * ROW
        parts.append(_label(y, f"turn {turn.index} · {turn.kind}"))
        parts.append(_tick(scale.x(turn.start), y, "#34495e", f"turn {turn.index} starts"))
        for span in turn.responses:
            end = span.done if span.done is not None else trace.duration
            colour = STATUS_COLOURS.get(span.status, STATUS_COLOURS[None])
            what = f"{span.response_id} {span.status or 'never done'}"
            parts.append(_bar(scale.x(span.created), scale.x(end), y, colour, what))
    parts.append("</svg>")
    return "".join(parts)


def legend_html() -> str:
    items = [
        f'<span><i style="background:{c}"></i>{s.replace("_", " ")}</span>'
        for s, c in STAGE_COLOURS.items()
    ]
    return '<p class="legend">' + "".join(items) + "</p>"


class _Scale:
    def __init__(self, top: float, *, seconds: bool = False) -> None:
        self.top = top
        self.seconds = seconds

    def x(self, value: float) -> int:
        usable = WIDTH - LEFT - 20
        return LEFT + round(min(max(value, 0.0), self.top) / self.top * usable)

    def axis(self, y: int, caption: str) -> list[str]:
        parts = [f'<line x1="{LEFT}" y1="{y}" x2="{WIDTH - 20}" y2="{y}" stroke="#555"/>']
        for step in range(6):
            value = self.top * step / 5
            x = self.x(value)
            text = f"{value:.1f}" if self.seconds else f"{value:,.0f}"
            parts.append(f'<line x1="{x}" y1="{y}" x2="{x}" y2="{y + 4}" stroke="#555"/>')
            parts.append(f'<text x="{x}" y="{y + 16}" text-anchor="middle">{text}</text>')
        parts.append(f'<text x="{LEFT}" y="{y + 32}">{escape(caption)}</text>')
        return parts


def _svg_open(name: str, height: int, title: str) -> str:
    return (
        f'<svg id="{name}" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'shape-rendering="crispEdges"><title>{escape(title)}</title>'
    )


def _label(y: int, text: str) -> str:
    return f'<text x="4" y="{y + 14}">{escape(text)}</text>'


def _bar(x1: int, x2: int, y: int, colour: str, title: str) -> str:
    width = max(x2 - x1, 2)
    return (
        f'<rect x="{x1}" y="{y + 3}" width="{width}" height="{ROW - 8}" fill="{colour}">'
        f"<title>{escape(title)}</title></rect>"
    )


def _tick(x: int, y: int, colour: str, title: str) -> str:
    return (
        f'<rect x="{x - 1}" y="{y + 1}" width="3" height="{ROW - 4}" fill="{colour}">'
        f"<title>{escape(title)}</title></rect>"
    )


def _last_ms(turn: Turn) -> float:
    values = [ms for ms in turn.waterfall().values() if ms is not None]
    return max(values, default=0.0)


__all__ = ["STAGES", "legend_html", "timeline_svg", "waterfall_svg"]
