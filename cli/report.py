"""``tierwise report [RUN]``: the HTML report of a stored run, from the rating history."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .history import store_options


@click.command(name="report")
@click.argument("run_id", required=False, metavar="[RUN]")
@store_options
@click.option("--out", type=click.Path(path_type=Path), required=True, metavar="FILE.html",
              help="Where to write the report (.html).")
@click.option("--headers", "headers", type=click.Choice(["en", "zh"]),
              help="Table headers: en or zh (综合得分, 等级, …). Default: the ruleset's language.")
def report_command(run_id: str | None, store: Any, out: Path, headers: str | None = None) -> None:
    """Write the HTML report of a stored run (default: the newest complete run).

    The tier distribution against the expected shares, the score histogram
    with the tier cuts, each dimension's scores, segment sizes, data quality
    (missing values and how they were scored, bad cells, duplicate and blank
    keys, unmatched rows, with sample rows) and the migration matrix and
    biggest movers against the previous run of the same ruleset. Everything
    is read from the store: the ratings, the run's summary and its rule text.
    One file with its charts inline: it opens offline and prints.

    Example:

        tierwise report --out report.html
    """
    from ..engine.plugin_api import DataError
    from ..engine.report_store import stored_report
    from .main import RuleErrors, check_report_path, registry, write_report

    check_report_path(out)
    if run_id is not None:
        run = store.run(run_id.strip())
        if run is None:
            raise RuleErrors(f"no run '{run_id}' (or more than one starts so): see `tierwise runs`")
    else:
        run = next((r for r in store.runs() if r.status == "complete"), None)
        if run is None:
            raise RuleErrors("no complete run in the rating store yet: `tierwise run` records one")
    try:
        report = stored_report(store, run, registry())
    except DataError as exc:
        raise RuleErrors(str(exc)) from None
    write_report(report, out, headers)


COMMANDS = (report_command,)
