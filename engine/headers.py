"""Column headers in the ruleset's language, for the files people read.

A ruleset whose indicator names hold Chinese characters gets Chinese headers in .xlsx (综合得分,
等级, …); .csv and .parquet keep the stable machine names (``score``, ``tier``, …) integrations rely
on. ``--headers en|zh`` chooses for any format. The key keeps its own name (客户编号), and so do
the indicators, dimensions and segments, which the rule file names.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from . import plan as P

Language = Literal["en", "zh"]
LANGUAGES = ("en", "zh")

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")

#: the result's own columns, in Chinese as the rating forms name them
ZH = {"score": "综合得分", "tier": "等级", "tier_label": "等级名称", "final_tier": "最终等级", "labels": "标签",
      "missing": "缺失项", "no_score_reason": "无得分原因", "triggers": "触发规则"}
#: the per-indicator and per-dimension suffixes (年交易额.points -> 年交易额.得分)
ZH_SUFFIX = {"points": "得分", "band": "档位", "weight": "权重", "last": "上期值", "change": "变动"}


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def ruleset_language(plan: P.Plan) -> Language:
    """zh when any indicator name holds a CJK character, else en."""
    return "zh" if any(has_cjk(i.name) for i in plan.indicators) else "en"


def language_for(plan: P.Plan, path: Path, chosen: str | None) -> Language:
    """The header language of an output file: ``chosen`` (--headers), else the ruleset's for .xlsx and
    the machine names (en) for .csv and .parquet."""
    if chosen in LANGUAGES:
        return chosen  # type: ignore[return-value]
    return ruleset_language(plan) if path.suffix.lower() == ".xlsx" else "en"


def header_names(plan: P.Plan, columns: list[str], language: Language) -> list[str]:
    """The headers of ``columns`` in ``language``. A translated header that would repeat another column's
    name (an indicator called 等级) keeps its machine name, so no two headers are alike."""
    if language == "en":
        return list(columns)
    named = {i.name for i in plan.indicators} | {d.name for d in plan.dimensions}
    out: list[str] = []
    taken = set(columns)
    for c in columns:
        zh = ZH.get(c) if c != plan.key_column and c not in named else None
        base, _, suffix = c.rpartition(".")
        if zh is None and base in named and suffix in ZH_SUFFIX:
            zh = f"{base}.{ZH_SUFFIX[suffix]}"
        if zh is None or zh in taken:
            out.append(c)
        else:
            out.append(zh)
            taken.add(zh)
    return out


#: the words of the workbooks' own sheets and labels
WORDS = {
    "en": {"ratings": "ratings", "summary": "summary", "quality": "data quality", "scorecard": "scorecard",
           "tier": "tier", "label": "label", "customers": "customers", "share": "share",
           "expect_lo": "expected from", "expect_hi": "expected to", "within": "within expected",
           "yes": "yes", "no": "out of band", "ruleset": "ruleset", "version": "version", "as_of": "as of",
           "run": "run", "rated": "customers rated", "distribution": "tier distribution against the expected shares",
           "missing_title": "missing values per indicator", "indicator": "indicator", "missing": "missing",
           "scored": "how they were scored", "issues_title": "data problems", "problem": "problem",
           "where": "where", "count": "rows", "samples": "sample rows", "warnings_title": "warnings",
           "none": "none", "dimension": "dimension", "value": "value", "rule": "rule applied",
           "points": "points", "weight": "weight", "weighted": "weighted score", "subtotal": "subtotal",
           "total": "total score", "tier_label": "tier label", "final_tier": "final tier", "key": "customer",
           "score": "score", "labels": "labels", "segment": "segment", "form": "customer rating form",
           "points_range": "points", "score_range": "score", "cuts": "tier cuts", "from_score": "score from",
           "declared": "declared weight", "share_of_score": "share of score", "scale": "points → score", "contribution": "contribution", "dim_weight": "dimension weight",
           "note": "Edit a points cell: the weighted scores, subtotals, the total and the tier recompute."},
    "zh": {"ratings": "评级结果", "summary": "等级分布", "quality": "数据质量", "scorecard": "客户关系评级表",
           "tier": "等级", "label": "等级名称", "customers": "客户数", "share": "占比",
           "expect_lo": "预期占比下限", "expect_hi": "预期占比上限", "within": "是否在预期内",
           "yes": "是", "no": "超出预期", "ruleset": "评级规则", "version": "版本", "as_of": "评级日期",
           "run": "运行编号", "rated": "评级客户数", "distribution": "等级分布与预期占比",
           "missing_title": "各指标缺失值", "indicator": "指标", "missing": "缺失数",
           "scored": "缺失处理", "issues_title": "数据问题", "problem": "问题", "where": "位置",
           "count": "行数", "samples": "示例", "warnings_title": "提示", "none": "无",
           "dimension": "维度", "value": "指标值", "rule": "评分规则", "points": "得分", "weight": "权重",
           "weighted": "加权得分", "subtotal": "小计", "total": "综合得分", "tier_label": "等级名称",
           "final_tier": "最终等级", "key": "客户", "score": "综合得分", "labels": "标签", "segment": "分群",
           "form": "客户关系评级表", "points_range": "分值范围", "score_range": "得分范围", "cuts": "等级划分",
           "from_score": "最低得分", "declared": "规定权重", "share_of_score": "占总分权重",
           "scale": "得分换算", "contribution": "得分贡献", "dim_weight": "维度权重", "note": "修改得分单元格后，加权得分、小计、综合得分与等级会自动重算。"},
}
