"""The dashboard's chart: verifications and failures per week, as inline SVG.

Drawn on the server so the page needs no script; every bar has a text title,
and the same numbers are in a table beside it for screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

WIDTH, HEIGHT, PAD = 640, 180, 28


def weekly_bars(weeks: Sequence[tuple[str, int, int]]) -> str:
    """Stacked bars (passed, failed) per week; labels every fourth week."""
    top = max([ok + bad for _, ok, bad in weeks] + [1])
    step = (WIDTH - 2 * PAD) / max(len(weeks), 1)
    bar = max(step - 4, 2)
    scale = (HEIGHT - 2 * PAD) / top
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img"'
        ' aria-labelledby="chart-title" class="chart">',
        '<title id="chart-title">Bags verified per week (passed and failed), last 26 weeks</title>',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}"'
        ' class="axis"/>',
        f'<text x="{PAD - 4}" y="{PAD + 4}" class="label" text-anchor="end">{top}</text>',
        f'<text x="{PAD - 4}" y="{HEIGHT - PAD}" class="label" text-anchor="end">0</text>',
    ]
    for i, (week, ok, bad) in enumerate(weeks):
        x = PAD + i * step + 2
        h_ok, h_bad = ok * scale, bad * scale
        y_ok = HEIGHT - PAD - h_ok
        y_bad = y_ok - h_bad
        name = escape(week)
        parts.append(
            f'<rect x="{x:.1f}" y="{y_ok:.1f}" width="{bar:.1f}" height="{h_ok:.1f}" class="ok">'
            f"<title>week {name}: {ok} passed</title></rect>"
        )
        if bad:
            parts.append(
                f'<rect x="{x:.1f}" y="{y_bad:.1f}" width="{bar:.1f}" height="{h_bad:.1f}"'
                f' class="bad"><title>week {name}: {bad} failed</title></rect>'
            )
        if i % 4 == 0:
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT - PAD + 14}" class="label">{name}</text>')
    parts.append("</svg>")
    return "".join(parts)
