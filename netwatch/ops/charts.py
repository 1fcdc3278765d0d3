"""Charts as inline SVG text, drawn on the server: the workbench's dashboard and the nightly HTML report show
the same pictures, and neither needs a script or a chart library from the network."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ("#c0392b", "#d35400", "#2471a3", "#1e8449", "#7d3c98", "#b7950b", "#5d6d7e")
FONT = 'font-family="WenQuanYi Zen Hei, Noto Sans CJK SC, sans-serif" font-size="12"'


def bars(items: Sequence[tuple[str, int]], *, title: str, width: int = 460, colour: str = PALETTE[2]) -> str:
    """Horizontal bars, one per (label, value), with the value written beside each."""
    row, label_width, top = 22, 130, 26
    height = top + row * max(len(items), 1) + 6
    most = max((value for _, value in items), default=0) or 1
    span = width - label_width - 50
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" {FONT}><title>{escape(title)}</title>',
             f'<text x="0" y="16" font-weight="bold">{escape(title)}</text>']
    if not items:
        parts.append(f'<text x="0" y="{top + 14}" fill="#777">—</text>')
    for number, (label, value) in enumerate(items):
        y = top + number * row
        length = max(1, round(span * value / most)) if value else 0
        parts.append(f'<text x="{label_width - 6}" y="{y + 14}" text-anchor="end">{escape(str(label))}</text>'
                     f'<rect x="{label_width}" y="{y + 3}" width="{length}" height="{row - 8}" fill="{colour}"/>'
                     f'<text x="{label_width + length + 4}" y="{y + 14}">{value}</text>')
    parts.append("</svg>")
    return "".join(parts)


def columns(items: Sequence[tuple[str, int]], *, title: str, width: int = 620, height: int = 200,
            colour: str = PALETTE[0]) -> str:
    """Vertical columns over time (e.g. new leads per night), first and last dates written under the axis."""
    top, bottom, left = 26, 30, 36
    inner_h, inner_w = height - top - bottom, width - left - 10
    most = max((value for _, value in items), default=0) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" {FONT}><title>{escape(title)}</title>',
             f'<text x="0" y="16" font-weight="bold">{escape(title)}</text>',
             f'<line x1="{left}" y1="{top + inner_h}" x2="{width - 10}" y2="{top + inner_h}" stroke="#999"/>',
             f'<text x="{left - 4}" y="{top + 10}" text-anchor="end">{most}</text>',
             f'<text x="{left - 4}" y="{top + inner_h}" text-anchor="end">0</text>']
    if items:
        step = min(inner_w / len(items), 40)  # a few nights do not make one wall of colour
        for number, (label, value) in enumerate(items):
            bar = round(inner_h * value / most)
            x = left + number * step
            parts.append(f'<rect x="{x + 1:.1f}" y="{top + inner_h - bar}" width="{max(step - 2, 1):.1f}" '
                         f'height="{bar}" fill="{colour}"><title>{escape(str(label))}: {value}</title></rect>')
        parts.append(f'<text x="{left}" y="{height - 8}">{escape(str(items[0][0]))}</text>')
        if len(items) > 1:
            parts.append(f'<text x="{width - 10}" y="{height - 8}" text-anchor="end">{escape(str(items[-1][0]))}</text>')
    else:
        parts.append(f'<text x="{left + 8}" y="{top + inner_h / 2:.0f}" fill="#777">—</text>')
    parts.append("</svg>")
    return "".join(parts)
