"""The HTML report: one self-contained file (inline CSS and SVG; no script, no font, no image fetched),
readable on a laptop, printable (``@media print``), CJK text in a font fallback stack.

Renders an engine.report.Report; every figure comes from it (the run's summary, result queries, the
store), nothing is computed here but the drawing.
"""
from __future__ import annotations

import re
from html import escape
from pathlib import Path

from ..engine.report import Report
from ..engine.summary import NO_SCORE, NO_TIER
from . import svg

FONTS = ('"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", "Hiragino Sans GB", '
         '"Microsoft YaHei", "WenQuanYi Micro Hei", system-ui, -apple-system, "Segoe UI", Roboto, sans-serif')

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: %(fonts)s; margin: 0; color: #1d2430; background: #f6f7f9; line-height: 1.5; font-size: 15px; }
header { background: #1f3a5f; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header .meta { opacity: .9; font-size: 13px; }
nav { padding: 8px 32px; background: #e9edf3; font-size: 13px; position: sticky; top: 0; z-index: 1; }
nav a { margin-right: 14px; color: #1f3a5f; text-decoration: none; }
main { max-width: 1120px; margin: 0 auto; padding: 8px 24px 40px; }
section { background: #fff; border: 1px solid #dde2ea; border-radius: 6px; padding: 14px 20px 18px; margin: 16px 0; }
h2 { font-size: 18px; margin: 4px 0 10px; color: #1f3a5f; }
h3 { font-size: 15px; margin: 14px 0 6px; }
.sub { color: #5b6472; font-size: 13px; margin: -4px 0 10px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 8px 20px; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border-bottom: 1px solid #e4e8ee; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f1f4f8; font-weight: 600; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.bad { color: #c8412b; font-weight: 600; }
.ok { color: #2e7d32; }
.note { color: #5b6472; font-size: 13px; }
.samples { color: #444; font-size: 12px; }
.samples code { background: #f3f4f6; padding: 0 3px; border-radius: 3px; }
footer { color: #7a8290; font-size: 12px; text-align: center; padding: 12px; }
@media print {
  body { background: #fff; font-size: 11pt; }
  nav { display: none; }
  header { background: #fff; color: #000; border-bottom: 2px solid #1f3a5f; padding: 0 0 6px; }
  main { max-width: none; padding: 0; }
  section { border: none; border-top: 1px solid #ccc; border-radius: 0; padding: 8px 0; margin: 8px 0;
            break-inside: avoid; page-break-inside: avoid; }
  .grid { grid-template-columns: 1fr 1fr; }
  svg { max-width: 100%% !important; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
""" % {"fonts": FONTS}

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _e(x: object) -> str:
    return escape(str(x))


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


class Headings:
    """Section titles: English, with the Chinese beside them for a ruleset written in Chinese."""

    ZH = {"Tier distribution": "等级分布", "Score distribution": "得分分布", "Dimension scores": "维度得分",
          "Segments": "客户分群", "Data quality": "数据质量", "Changes since the previous run": "评级变动",
          "Biggest movers": "变动最大的客户", "Missing values": "缺失值", "Data problems": "数据问题"}

    #: table column headers in Chinese (a Chinese ruleset's tables read as its rating forms do)
    ZH_COLUMNS = {"tier": "等级", "label": "等级名称", "customers": "客户数", "share": "占比",
                  "expected": "预期占比", "within": "是否在区间", "indicator": "指标", "missing": "缺失数",
                  "how it was scored": "计分方式", "where": "位置", "what": "问题", "rows": "行数",
                  "sample rows": "示例行", "customer": "客户", "score": "综合得分",
                  "points that changed most": "得分变化最大的指标"}

    def __init__(self, chinese: bool, headers: str | None = None):
        self.chinese = chinese
        self.zh_columns = headers == "zh" or (headers is None and chinese)

    def __call__(self, text: str) -> str:
        zh = self.ZH.get(text)
        return _e(f"{text} · {zh}" if self.chinese and zh else text)

    def columns(self, *names: str) -> str:
        """A table's header row, in the ruleset's language (or the one --headers chose)."""
        return "<tr>" + "".join(f"<th>{_e(self.ZH_COLUMNS.get(n, n) if self.zh_columns else n)}</th>"
                                for n in names) + "</tr>"


def tier_name(tier: str | None, label: str | None) -> str:
    if tier is None:
        return label or "no tier"
    return f"{tier} {label}" if label else tier


def render(report: Report, headers: str | None = None) -> str:
    """The whole report as one HTML document; ``headers`` en|zh: the tables' column headers (default:
    the ruleset's language)."""
    chinese = bool(CJK.search(report.ruleset or "")) or any(CJK.search(t.label or "") for t in report.distribution)
    h = Headings(chinese, headers)
    title = " ".join(filter(None, [report.ruleset, report.version]))
    meta = [f"as of {report.as_of}", f"{report.rows:,} customers"]
    if report.run_id:
        meta.append(f"run {report.run_id[:12]}")
    if report.kind and report.kind != "periodic":
        meta.append(report.kind)
    if report.started_at is not None:
        meta.append(f"started {report.started_at:%Y-%m-%d %H:%M} UTC" + (f" by {report.started_by}"
                                                                        if report.started_by else ""))
    sections = [("tiers", h("Tier distribution"), _tiers(report, h)),
                ("scores", h("Score distribution"), _scores(report)),
                ("dimensions", h("Dimension scores"), _dimensions(report)),
                ("segments", h("Segments"), _segments(report)),
                ("quality", h("Data quality"), _quality(report, h)),
                ("history", h("Changes since the previous run"), _history(report, h))]
    nav = "".join(f'<a href="#{sid}">{title_}</a>' for sid, title_, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{title_}</h2>{content}</section>' for sid, title_, content in sections)
    notes = "".join(f"<li>{_e(n)}</li>" for n in report.notes)
    return (f'<!DOCTYPE html>\n<html lang="{"zh-CN" if chinese else "en"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)} — {_e(report.as_of)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{_e(title)}</h1><div class=\"meta\">{_e(' · '.join(meta))}</div></header>"
            f"<nav>{nav}</nav><main>{body}"
            + (f'<section id="notes"><h2>Not shown</h2><ul class="note">{notes}</ul></section>' if notes else "")
            + "</main><footer>tierwise report — every figure is read from the run's summary, its result and "
              "the rating store</footer></body></html>\n")


def write(report: Report, path: Path, headers: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(report, headers), encoding="utf-8")


# ---- sections --------------------------------------------------------------------------------------

def _tiers(report: Report, h: Headings) -> str:
    if not report.distribution:
        return '<p class="note">no customers were rated</p>'
    rows = [(tier_name(t.tier, t.label), t.share, t.count, t.expect, t.within) for t in report.distribution]
    out = [f'<p class="sub">the computed tier of each customer, against each tier\'s expected share '
           f'(the shaded band)</p><div class="chart">{svg.tier_bars(rows)}</div>']
    out.append("<table>" + h.columns("tier", "label", "customers", "share", "expected", "within"))
    for t in report.distribution:
        within = "" if t.within is None else ('<span class="ok">yes</span>' if t.within
                                              else '<span class="bad">no — out of band</span>')
        expected = f"{_pct(t.expect[0])} – {_pct(t.expect[1])}" if t.expect else ""
        out.append(f"<tr><td>{_e(t.tier or '—')}</td><td>{_e(t.label or '')}</td><td class=\"n\">{t.count:,}</td>"
                   f"<td class=\"n\">{_pct(t.share)}</td><td class=\"n\">{expected}</td><td>{within}</td></tr>")
    out.append("</table>")
    flagged = [t for t in report.distribution if t.within is False]
    if flagged:
        out.append('<p class="bad">out of band: ' + _e(", ".join(
            f"{t.tier} {_pct(t.share)} (expected {_pct(t.expect[0])}–{_pct(t.expect[1])})" for t in flagged
            if t.expect)) + "</p>")
    return "".join(out)


def _scores(report: Report) -> str:
    hist = report.facts.score
    if hist is None or not hist.total:
        return '<p class="note">no scores in this result</p>'
    cuts = [(f"{c.tier} {c.op} {svg.num(c.value)}" + (" (lowest in tier)" if c.quota else ""), c.value)
            for c in report.cuts]
    out = [f'<p class="sub">{hist.total:,} customers with a score, in bins of {svg.num(hist.width)}; '
           f'the dashed lines are the tier cuts</p>',
           f'<div class="chart">{svg.histogram(hist.lo, hist.width, hist.counts, cuts, report.score_axis)}</div>']
    if hist.missing:
        out.append(f'<p class="note">{hist.missing:,} customer(s) without a score are not in the histogram</p>')
    return "".join(out)


def _dimensions(report: Report) -> str:
    dims = report.facts.dimensions
    if not dims:
        return '<p class="note">' + ("no dimension scores in this result" if not any(
            "dimension" in n for n in report.notes) else "dimension scores are not stored for this run") + "</p>"
    charts = []
    for name, hist in dims.items():
        extra = f" · {hist.missing:,} without" if hist.missing else ""
        charts.append(f'<div class="chart">{svg.histogram(hist.lo, hist.width, hist.counts, (), "", 360, 190, name)}'
                      f'<div class="note">{_e(name)}: {hist.total:,} scored{_e(extra)}</div></div>')
    return '<p class="sub">each dimension\'s score, on the points scale</p><div class="grid">' + "".join(charts) \
        + "</div>"


def _segments(report: Report) -> str:
    segs = report.facts.segments
    if not segs:
        return '<p class="note">' + ("segments are not stored for this run" if any(
            n.startswith("segments") for n in report.notes) else "this ruleset declares no segments") + "</p>"
    out = []
    for seg in segs:
        total = sum(n for _, n in seg.counts)
        items = [(case if case is not None else "(no case matched)", n) for case, n in seg.counts]
        out.append(f"<h3>{_e(seg.name)}</h3><div class=\"chart\">{svg.hbars(items, total, label=seg.name)}</div>")
    return "".join(out)


def _quality(report: Report, h: Headings) -> str:
    if report.missing is None and report.issues is None:
        return '<p class="note">not stored for this run (see "Not shown")</p>'
    out = []
    missing = report.missing or []
    out.append(f"<h3>{h('Missing values')}</h3>")
    if missing:
        items = [(m.indicator, m.count) for m in missing]
        out.append(f'<div class="chart">{svg.hbars(items, report.rows, color=svg.RED, label="missing values")}</div>')
        out.append("<table>" + h.columns("indicator", "missing", "share", "how it was scored"))
        for m in missing:
            share = m.count / report.rows if report.rows else 0.0
            out.append(f"<tr><td>{_e(m.indicator)}</td><td class=\"n\">{m.count:,}</td><td class=\"n\">{_pct(share)}"
                       f"</td><td>{_e(m.how)}</td></tr>")
        out.append("</table>")
    else:
        out.append('<p class="ok">no missing values</p>')
    out.append(f"<h3>{h('Data problems')}</h3>")
    issues = report.issues or []
    if issues:
        out.append("<table>" + h.columns("where", "what", "rows", "sample rows"))
        for i in issues:
            samples = "; ".join(f"<code>{_e(s)}</code>" for s in i.samples[:5])
            out.append(f"<tr><td>{_e(i.where)}</td><td>{_e(i.what)}</td><td class=\"n\">{i.count:,}</td>"
                       f"<td class=\"samples\">{samples}</td></tr>")
        out.append("</table>")
    else:
        out.append('<p class="ok">no bad cells, duplicate or blank keys, or unmatched rows</p>')
    if report.warnings:
        out.append("<h3>Warnings</h3><ul>" + "".join(f"<li>{_e(w)}</li>" for w in report.warnings) + "</ul>")
    unscored = [t for t in report.distribution if t.tier is None and t.label in (NO_SCORE, NO_TIER)]
    for t in unscored:
        out.append(f'<p class="note">{t.count:,} customer(s): {_e(t.label)}</p>')
    return "".join(out)


def _history(report: Report, h: Headings) -> str:
    ch = report.changes
    if ch is None:
        return f'<p class="note">{_e(report.history_note or "no history")}</p>'
    labels = {t.tier: tier_name(t.tier, t.label) for t in report.distribution if t.tier}
    names = {t: labels.get(t, t) if t else "no tier" for t in ch.tiers}
    before, after = ch.before, ch.after
    out = [f'<p class="sub">final tiers: run {_e(before.id[:12])} (as of {_e(before.as_of)}) → run '
           f'{_e(after.id[:12])} (as of {_e(after.as_of)}); {ch.moved:,} of {ch.both:,} customers rated in both '
           f'moved ({_pct(ch.moved / ch.both if ch.both else 0.0)})</p>',
           f'<div class="chart">{svg.matrix(ch.tiers, ch.matrix, ch.both, names)}</div>']
    if ch.only_before or ch.only_after:
        out.append(f'<p class="note">only in the previous run: {ch.only_before:,}; new in this run: '
                   f'{ch.only_after:,}</p>')
    out.append(f"<h3>{h('Biggest movers')}</h3>")
    if not report.movers:
        out.append('<p class="ok">nobody moved</p>')
        return "".join(out)
    out.append("<table>" + h.columns("customer", "tier", "score", "points that changed most"))
    for m in report.movers:
        changes = ", ".join(f"{c.indicator} {svg.num(c.before)} → {svg.num(c.after)}" for c in m.changes)
        out.append(f"<tr><td>{_e(m.customer)}</td><td>{_e(m.tier_before or '—')} → {_e(m.tier_after or '—')}</td>"
                   f"<td class=\"n\">{svg.num(m.score_before)} → {svg.num(m.score_after)}</td>"
                   f"<td>{_e(changes)}</td></tr>")
    out.append("</table>")
    if len(ch.movers) > len(report.movers):
        out.append(f'<p class="note">{len(ch.movers) - len(report.movers):,} more moved; '
                   f'`tierwise changes --out FILE` lists them all</p>')
    return "".join(out)
