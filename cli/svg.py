"""Small SVG charts for the HTML report, written by hand: no chart library, nothing fetched.

Every chart is one ``<svg>`` with a ``viewBox`` (it scales to the page and prints sharp); each data mark
has ``class="mark"`` and a ``<title>`` (the exact figure, shown on hover). Text takes the page's font
(the CSS font stack, CJK included); widths are estimated with CJK characters as one em, others as
0.6 em.
"""
from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from html import escape

FONT = 12  # px, the charts' text
BLUE, RED, GREY, BAND, CUT = "#2f6db5", "#c8412b", "#8a8f98", "#cfe3c8", "#b0452f"


def text_width(text: str, size: float = FONT) -> float:
    """Rough rendered width: wide (CJK) characters one em, others 0.6 em."""
    return sum(size if unicodedata.east_asian_width(ch) in "WF" else size * 0.6 for ch in text)


def num(x: float) -> str:
    """A number as a chart label: thousands separators, at most 4 significant decimals, no float noise."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.4g}" if abs(x) < 1e4 else f"{x:,.0f}"


def pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _svg(width: float, height: float, body: list[str], label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
            f'aria-label="{escape(label)}" style="width:100%;max-width:{width:.0f}px;height:auto" '
            f'font-size="{FONT}">' + "".join(body) + "</svg>")


def _text(x: float, y: float, s: str, anchor: str = "start", **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{escape(s)}</text>'


def _ticks(lo: float, hi: float, n: int = 5, whole: bool = False) -> list[float]:
    """Round tick values covering lo..hi (about n of them; ``whole``: whole numbers only, for counts)."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw and (not whole or (m * mag) % 1 == 0 or m * mag < 1))
    if whole:
        step = max(step, 1)
    start = math.ceil(lo / step - 1e-9) * step
    out = []
    v = start
    while v <= hi + step * 1e-9:
        out.append(round(v, 10))
        v += step
    return out


def tier_bars(rows: Sequence[tuple[str, float, int, tuple[float, float] | None, bool | None]]) -> str:
    """The tier distribution: per tier (label, share, count, expected band, within) a bar of its share
    over the expected band (shaded); a bar outside its band is red and says so."""
    width = 720
    label_w = max([text_width(r[0]) for r in rows] + [40]) + 16
    right = 210
    row_h, top = 30, 24
    height = top + row_h * len(rows) + 28
    scale_max = max([r[1] for r in rows] + [r[3][1] for r in rows if r[3]] + [0.01]) * 1.08
    plot_w = width - label_w - right

    def x(v: float) -> float:
        return label_w + plot_w * v / scale_max

    body = [f'<line x1="{label_w:.1f}" y1="{top - 6}" x2="{label_w:.1f}" y2="{height - 22}" stroke="#555"/>']
    for t in _ticks(0, scale_max):
        body.append(f'<line x1="{x(t):.1f}" y1="{top - 6}" x2="{x(t):.1f}" y2="{height - 22}" stroke="#e4e4e4"/>')
        body.append(_text(x(t), height - 8, pct(t), "middle", fill="#555"))
    for i, (label, share, count, expect, within) in enumerate(rows):
        y = top + i * row_h
        body.append(_text(label_w - 8, y + 15, label, "end"))
        if expect:
            lo, hi = expect
            body.append(f'<rect class="band" x="{x(lo):.1f}" y="{y:.1f}" width="{max(x(hi) - x(lo), 1.5):.1f}" '
                        f'height="{row_h - 8}" fill="{BAND}"><title>expected {pct(lo)}–{pct(hi)}</title></rect>')
        color = GREY if within is None else (BLUE if within else RED)
        body.append(f'<rect class="mark" x="{label_w:.1f}" y="{y + 5:.1f}" width="{max(x(share) - label_w, 0.5):.1f}" '
                    f'height="{row_h - 18}" fill="{color}"><title>{escape(label)}: {count:,} customers, '
                    f'{pct(share)}</title></rect>')
        note = f"{pct(share)}  ({count:,})"
        if expect:
            note += f"  expected {pct(expect[0])}–{pct(expect[1])}"
        body.append(_text(width - right + 8, y + 15, note, fill="#222"))
        if within is False:
            body.append(_text(x(share) + 4, y + 14, "out of band", fill=RED, font_weight="bold"))
    return _svg(width, height, body, "tier distribution against the expected shares")


def histogram(lo: float, bin_width: float, counts: Sequence[int], cuts: Sequence[tuple[str, float]] = (),
              axis: str = "", width: float = 720, height: float = 260, title: str = "") -> str:
    """Bars of ``counts`` over bins of ``bin_width`` from ``lo``, with vertical dashed lines at ``cuts``
    (label, value)."""
    left, right, top, bottom = 54, 16, 26 if cuts else 10, 34
    n = max(len(counts), 1)
    hi = lo + bin_width * n
    peak = max(list(counts) + [1])
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(v: float) -> float:
        return left + plot_w * (v - lo) / (hi - lo)

    def y(c: float) -> float:
        return top + plot_h * (1 - c / peak)

    body = []
    for t in _ticks(0, peak, 4, whole=True):
        body.append(f'<line x1="{left}" y1="{y(t):.1f}" x2="{width - right}" y2="{y(t):.1f}" stroke="#e8e8e8"/>')
        body.append(_text(left - 6, y(t) + 4, num(t), "end", fill="#555"))
    for i, c in enumerate(counts):
        if not c:
            continue
        a, b = lo + i * bin_width, lo + (i + 1) * bin_width
        body.append(f'<rect class="mark" x="{x(a) + 0.5:.1f}" y="{y(c):.1f}" width="{max(x(b) - x(a) - 1, 0.5):.1f}" '
                    f'height="{top + plot_h - y(c):.1f}" fill="{BLUE}"><title>{num(a)} – {num(b)}: '
                    f'{c:,}</title></rect>')
    body.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#555"/>')
    for t in _ticks(lo, hi, 8 if width > 400 else 4):
        body.append(_text(x(t), top + plot_h + 16, num(t), "middle", fill="#555"))
    if axis:
        body.append(_text(left + plot_w / 2, height - 2, axis, "middle", fill="#333"))
    for label, value in cuts:
        if lo <= value <= hi:
            body.append(f'<line class="mark cut" x1="{x(value):.1f}" y1="{top - 4}" x2="{x(value):.1f}" '
                        f'y2="{top + plot_h}" stroke="{CUT}" stroke-width="1.5" stroke-dasharray="5 3">'
                        f'<title>{escape(label)}</title></line>')
            body.append(_text(x(value) + 3, top - 8, label, fill=CUT))
    if title:
        body.insert(0, _text(left, 12, title, font_weight="bold"))
    return _svg(width, height, body, title or axis or "histogram")


def hbars(items: Sequence[tuple[str, int]], total: int, width: float = 720, color: str = BLUE,
          label: str = "") -> str:
    """Horizontal bars: per item (label, count) its count and share of ``total``."""
    label_w = max([text_width(k) for k, _ in items] + [40]) + 16
    right = 150
    row_h = 24
    height = row_h * len(items) + 8
    peak = max([n for _, n in items] + [1])
    plot_w = width - label_w - right
    body = []
    for i, (k, n) in enumerate(items):
        y = 4 + i * row_h
        body.append(_text(label_w - 8, y + 15, k, "end"))
        share = n / total if total else 0.0
        body.append(f'<rect class="mark" x="{label_w:.1f}" y="{y + 4:.1f}" width="{max(plot_w * n / peak, 0.5):.1f}" '
                    f'height="{row_h - 8}" fill="{color}"><title>{escape(k)}: {n:,} ({pct(share)})</title></rect>')
        body.append(_text(label_w + max(plot_w * n / peak, 0.5) + 6, y + 15, f"{n:,}  ({pct(share)})", fill="#222"))
    return _svg(width, height, body, label or "bars")


def matrix(tiers: Sequence[str], cell: dict[tuple[str, str], int], total: int, names: dict[str, str]) -> str:
    """The migration matrix as a grid: rows the tier before, columns the tier after; each cell's shade
    is its share of the customers rated in both runs, the diagonal (no move) outlined."""
    n = len(tiers)
    head = max([text_width(names.get(t, t)) for t in tiers] + [50]) + 14
    cw, ch = max(92.0, head), 40
    left, top = head + 24, 44
    width, height = left + cw * n + 10, top + ch * n + 10
    body = [_text(left + cw * n / 2, 12, "after →", "middle", fill="#333"),
            _text(12, top + ch * n / 2, "before ↓", "middle", fill="#333",
                  transform=f"rotate(-90 12 {top + ch * n / 2:.1f})")]
    for j, t in enumerate(tiers):
        body.append(_text(left + cw * j + cw / 2, top - 8, names.get(t, t), "middle", font_weight="bold"))
    for i, a in enumerate(tiers):
        body.append(_text(left - 8, top + ch * i + ch / 2 + 4, names.get(a, a), "end", font_weight="bold"))
        for j, b in enumerate(tiers):
            c = cell.get((a, b), 0)
            share = c / total if total else 0.0
            shade = 0.06 + 0.8 * math.sqrt(share) if c else 0.0
            color = (BLUE if a == b else RED) if c else "#fff"
            xx, yy = left + cw * j, top + ch * i
            body.append(f'<rect class="mark" x="{xx:.1f}" y="{yy:.1f}" width="{cw - 2:.1f}" height="{ch - 2:.1f}" '
                        f'fill="{color}" fill-opacity="{shade:.3f}" stroke="{"#333" if a == b else "#ddd"}">'
                        f'<title>{escape(names.get(a, a))} → {escape(names.get(b, b))}: {c:,} ({pct(share)})</title>'
                        f'</rect>')
            fill = "#fff" if shade > 0.5 else "#222"
            body.append(_text(xx + cw / 2 - 1, yy + 17, f"{c:,}", "middle", fill=fill))
            body.append(_text(xx + cw / 2 - 1, yy + 31, pct(share), "middle", fill=fill, font_size="10"))
    return _svg(width, height, body, "tier migration matrix")
