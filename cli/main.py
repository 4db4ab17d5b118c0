"""The ``tierwise`` command line: thin commands that parse arguments, call the engine, render."""
from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import click

from ..engine.dates import ALSO
from .backend_options import backend_options
from .render import console, err_console, esc, print_diagnostics, print_distribution, print_issues, scorecard

if TYPE_CHECKING:  # pragma: no cover
    from ..engine.calibration import Calibration
    from ..engine.plugin_manager import Registry
    from ..engine.store import Run


class RuleErrors(click.ClickException):
    exit_code = 1

    def show(self, file=None):  # diagnostics were printed already
        if self.message:
            err_console().print(f"[red]error:[/red] {esc(self.message)}", highlight=False)


def registry() -> Registry:
    from ..engine.plugin_manager import default_registry

    return default_registry()


def load(path: Path, show_warnings: bool = True):
    """Parse and check one rule file; print diagnostics; exit 1 on errors."""
    from ..dsl import RuleFileError, read_rule_file
    from ..engine.build import compile_text

    try:
        text = read_rule_file(path)
    except OSError as exc:
        raise click.UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    except RuleFileError as exc:  # not text: UTF-16 without a mark, Latin-1, binary, a GBK line in UTF-8
        print_diagnostics(exc.diagnostics)
        raise RuleErrors(f"{len(exc.diagnostics.errors)} error(s) in {path}") from None
    from ..engine.settings import SettingsLookup

    settings = SettingsLookup(path)
    plan, diags, _ = compile_text(text, str(path), registry(), settings)
    if diags.items and (diags.errors or show_warnings):
        print_diagnostics(diags)
    if settings.error is not None:  # tierwise.toml, read because an action of this file needs it
        print_diagnostics(settings.error.diagnostics)
        bad = len(settings.error.diagnostics.errors)
        raise RuleErrors(f"{len(diags.errors)} error(s) in {path}, {bad} in {settings.path}" if diags.errors
                         else f"{bad} error(s) in {settings.path}")
    if plan is None:
        raise RuleErrors(f"{len(diags.errors)} error(s) in {path}")
    return plan


class DateParam(click.ParamType[date]):
    """A date as rule files and text sources write it (engine.dates): 2026-06-30, 2026/6/30, 2026.6.30, ..."""

    name = "date"

    def convert(self, value, param, ctx):
        from ..engine.dates import ALSO, date_hint, parse_date

        if isinstance(value, date):
            return value
        day = parse_date(str(value))
        if day is None:
            hint = date_hint(str(value))
            self.fail(f"'{value}' is not a date like 2026-06-30 ({ALSO})"
                      + (f": {hint}" if hint else ""), param, ctx)
        return day


DATE = DateParam()
AS_OF_HELP = f"e.g. 2026-06-30 ({ALSO})"


def refuse_overwriting_inputs(plan, file: Path, overrides: dict[str, str], outputs: dict[str, Path | None]) -> None:
    """A usage error when --out or --log would overwrite the rule file or a source's file."""
    inputs = {file.resolve()}
    for sp in plan.sources:
        location = overrides.get(sp.name, sp.options.get("path"))
        if isinstance(location, str) and "://" not in location:
            p = Path(location).expanduser()
            inputs.add((p if p.is_absolute() else file.parent / p).resolve())
    for option, path in outputs.items():
        if path is not None and path.resolve() in inputs:
            raise click.BadParameter(f"{path} is an input of this run (the rule file or a source): "
                                     f"writing there would destroy it", param_hint=option)


def typed_location(value: str) -> str:
    """A path or SQLite URL typed on the command line is relative to where it was typed, not to the rule file."""
    if value.startswith("sqlite:///") and not value.startswith("sqlite:////") and len(value) > 10:
        file, _, query = value[len("sqlite:///"):].partition("?")
        return "sqlite:///" + str(Path(file).expanduser().absolute()) + (f"?{query}" if query else "")
    return value if "://" in value else str(Path(value).expanduser().absolute())


def headers_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--headers en|zh: the language of an output file's column headers."""
    return click.option(
        "--headers", "headers", type=click.Choice(["en", "zh"]),
        help="Column headers of --out: en (score, tier, …) or zh (综合得分, 等级, …). Default: .xlsx in the "
             "ruleset's language (zh when its indicator names are Chinese), .csv and .parquet the machine "
             "names (en).")(fn)


def source_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--source NAME=PATH_OR_URL (repeatable) and --as-of DATE."""

    @click.option("--source", "sources", multiple=True, metavar="NAME=PATH_OR_URL",
                  help="Read source NAME from this file or database URL instead of the one in the rule file.")
    @click.option("--as-of", "as_of", type=DATE, metavar="DATE", help=f"Rating date, {AS_OF_HELP}; default: today.")
    @functools.wraps(fn)
    def wrapper(*args, sources, as_of, **kwargs):
        overrides = {}
        for item in sources:
            if "=" not in item:
                raise click.BadParameter(f"'{item}' is not NAME=PATH_OR_URL", param_hint="--source")
            name, value = item.split("=", 1)
            value = value.strip()
            if not value:
                raise click.BadParameter(f"'{item}' gives no path or URL", param_hint="--source")
            # a path typed on the command line is relative to where it was typed, not to the rule file
            overrides[name.strip()] = typed_location(value)
        return fn(*args, overrides=overrides, as_of=as_of or date.today(), **kwargs)

    return wrapper


def recording_for(plan, file: Path, overrides: dict[str, str], db: str | None, by: str | None):
    """The store a run records itself in (--db, else TIERWISE_DB, else tierwise.db beside the rule file)."""
    import getpass

    from ..dsl import read_rule_file
    from ..engine.record import Recording, source_facts
    from ..engine.store import Store, default_url
    from ..engine.store.store import StoreError

    try:
        store = Store.open(db or default_url(file))
    except StoreError as exc:
        raise RuleErrors(str(exc)) from None
    try:
        who = by or getpass.getuser()
    except (KeyError, OSError):  # no user name in this environment (a container without one)
        who = "unknown"
    return Recording(store, read_rule_file(file), str(file.resolve()), who,
                     sources=source_facts(plan, file.parent, overrides))


def evaluate(plan, path: Path, as_of: date, overrides: dict[str, str], out: Path | None = None, columns: list[str] | None = None,
             record=None, **more):
    """Run the plan; a Parquet ``out`` is written by the run itself."""
    from ..engine.plugin_api import DataError
    from ..engine.run import run

    from .progress import progress_for

    parquet_out = out if out is not None and out.suffix.lower() == ".parquet" else None
    try:
        return run(plan, registry(), path.parent, as_of, overrides, parquet_out=parquet_out, columns=columns,
                   progress=progress_for(err_console()), record=record, **more)
    except DataError as exc:
        message = str(exc)
    except OSError as exc:
        message = f"cannot write {exc.filename or out}: {exc.strerror or exc}"
    # raised outside the except block: the failed run's frames (and its DuckDB connection) are let go
    # now, not kept alive as this error's context until the interpreter exits
    raise RuleErrors(message)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tierwise")
def cli():
    """tierwise: rate and tier customers with rules business people own.

    Every command's example runs as written in the directory `tierwise demo`
    writes (sample data and the shipped relationship rating): run `tierwise
    demo`, then `cd tierwise-demo`.

    Example:

        tierwise run relationship_rating.tier --as-of 2026-06-30 --out ratings.xlsx
    """


def rule_files(paths) -> list[Path]:
    """The rule files named, and every .tier file under a directory named."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(p.rglob("*.tier"))
            if not found:
                raise click.UsageError(f"no .tier files in {p}")
            files.extend(found)
        elif p.exists():
            files.append(p)
        else:
            raise click.UsageError(f"no such file or directory: {p}")
    return files


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def check(files):
    """Check rule files (or every .tier file in a directory): syntax, names, weights, bands, tiers,
    plugin options.

    Exit code 0 when clean (warnings allowed), 1 when errors were found.

    Example:

        tierwise check .
    """
    failed = 0
    for f in rule_files(files):
        try:
            load(f)
            console().print(f"[green]✓[/green] {esc(f)}", highlight=False)
        except RuleErrors as exc:
            failed += 1
            exc.show()
    if failed:
        sys.exit(1)


@cli.command(name="run")
@backend_options
@click.argument("file", type=click.Path(path_type=Path))
@source_options
@click.option("--out", type=click.Path(path_type=Path), help="Write ratings to .csv, .parquet or .xlsx.")
@click.option("--log", "log_path", type=click.Path(path_type=Path), help="Write the run log (actions) here.")
@click.option("--report", "report_path", type=click.Path(path_type=Path), metavar="FILE.html",
              help="Also write the HTML report: the tier distribution against the expected shares, the score "
                   "and dimension histograms, segments, data quality and, from the rating store, the changes "
                   "since the previous run. One file that opens offline.")
@click.option("--columns", "columns", metavar="A,B,…",
              help="Output only these columns (the key always comes first), e.g. score,tier; what is not "
                   "asked for is not computed. Besides the default output: NAME.band, NAME.weight, "
                   "DIMENSION.weight, no_score_reason, final_tier, triggers.")
@click.option("--db", "db", metavar="URL",
              help="Record the run in this rating store (a SQLAlchemy URL; the password from the environment). "
                   "Default: TIERWISE_DB, else tierwise.db beside the rule file.")
@click.option("--by", "by", metavar="USER", help="Who starts the run (recorded with it); default: the OS user.")
@click.option("--no-store", "no_store", is_flag=True, help="Do not record the run in the rating store.")
@headers_option
def run_command(file, overrides, as_of, out, log_path, columns=None, db=None, by=None, no_store=False,
                report_path=None, headers=None):
    """Rate every customer: score, tier, points per indicator, dimension scores.

    Prints the tier distribution against the expected shares and any data
    problems (bad cells, duplicate keys, values no band matched). An .xlsx
    output is a workbook: the ratings (number formats, tiers coloured), the
    summary (the distribution against the expected shares, with a chart) and
    the data quality (missing values per indicator, bad cells).

    Example:

    \b
        tierwise run relationship_rating.tier --source customers=客户档案.csv --as-of 2026-06-30 --out ratings.csv
    """
    if out is not None and out.suffix.lower() not in (".csv", ".parquet", ".xlsx"):
        raise click.BadParameter("must end in .csv, .parquet or .xlsx", param_hint="--out")
    check_report_path(report_path)
    plan = load(file)
    chosen = None
    if columns is not None:
        from ..engine.columns import ColumnError, choose_columns

        try:
            chosen = choose_columns(plan, columns.split(","))
        except ColumnError as exc:
            raise click.BadParameter(str(exc), param_hint="--columns") from None
    refuse_overwriting_inputs(plan, file, overrides, {"--out": out, "--log": log_path, "--report": report_path})
    if report_path is not None and out is not None and report_path.resolve() == out.resolve():
        raise click.BadParameter("--report and --out name the same file", param_hint="--report")
    recording = None if no_store else recording_for(plan, file, overrides, db, by)
    try:
        # Parquet with Chinese headers is renamed on writing; with the machine names the run writes it itself
        outcome = evaluate(plan, file, as_of, overrides, out if headers != "zh" else None, chosen, record=recording,
                           report=report_path is not None)
        print_distribution(outcome)
        finish(outcome, out, log_path, report_path, recording.store if recording is not None else None, headers)
    finally:
        if recording is not None:
            recording.store.close()


def check_report_path(path: Path | None) -> None:
    if path is not None and path.suffix.lower() not in (".html", ".htm"):
        raise click.BadParameter("must end in .html", param_hint="--report")


def write_report(report, path: Path, headers: str | None = None) -> None:
    """Write an engine.report.Report as the HTML report at ``path`` (``headers``: en|zh tables)."""
    from . import report_html
    from .progress import progress_for

    try:
        with progress_for(err_console()).step("writing"):
            report_html.write(report, path, headers)
    except OSError as exc:
        raise RuleErrors(f"cannot write {path}: {exc.strerror or exc}") from None
    console().print(f"wrote the report to {esc(path)}", highlight=False)


def finish(outcome, out: Path | None, log_path: Path | None, report_path: Path | None = None, store=None,
           headers: str | None = None) -> None:
    """After a run or re-rate: data issues, the output file, the report, the action log; exit 1 on
    unscored customers."""
    from ..engine.plugin_api import DataError

    print_issues(outcome)
    if report_path is not None:
        from ..engine.report import outcome_report

        write_report(outcome_report(outcome, store), report_path, headers)
    if outcome.deliveries and sum(outcome.deliveries.values()):
        d = outcome.deliveries
        console().print(f"actions: {d.get('delivered', 0)} delivered, {d.get('failed', 0)} failed, "
                        f"{d.get('pending', 0)} pending" + (" (`tierwise actions list`)" if d.get("failed") or
                                                            d.get("pending") else ""), highlight=False)
    if out is not None:
        from .progress import progress_for

        try:
            with progress_for(err_console()).step("writing"):
                outcome.write(out, headers)
        except DataError as exc:
            raise RuleErrors(str(exc)) from None
        except OSError as exc:
            raise RuleErrors(f"cannot write {out}: {exc.strerror or exc}") from None
        console().print(f"wrote {outcome.rows} ratings to {esc(out)}", highlight=False)
    if outcome.log:
        target = log_path or (out.with_suffix(".log") if out else None)
        if target is not None:
            try:
                target.write_text("\n".join(outcome.log) + "\n", encoding="utf-8")
            except OSError as exc:
                raise RuleErrors(f"cannot write {target}: {exc.strerror or exc}") from None
            console().print(f"wrote {len(outcome.log)} action log line(s) to {esc(target)}", highlight=False)
        else:
            for line in outcome.log[:5]:
                console().print(esc(line), highlight=False)
            if len(outcome.log) > 5:
                console().print(f"… {len(outcome.log) - 5} more action log line(s); use --log FILE",
                                highlight=False)
    unscored = outcome.unscored
    if unscored:
        raise RuleErrors(f"{unscored} customer(s) have no score (missing values under `missing -> error`)")


@cli.command()
@backend_options
@click.argument("file", type=click.Path(path_type=Path))
@source_options
@click.option("--out", type=click.Path(path_type=Path), help="Write the re-rated customers to .csv, .parquet or .xlsx.")
@click.option("--log", "log_path", type=click.Path(path_type=Path), help="Write the run log (actions) here.")
@click.option("--calibration", "calibration_run", metavar="RUN_ID",
              help="Score with the calibration of this run (see `tierwise runs`); default: the last full run's.")
@click.option("--db", "db", metavar="URL",
              help="The rating store (a SQLAlchemy URL; the password from the environment). "
                   "Default: TIERWISE_DB, else tierwise.db beside the rule file.")
@click.option("--by", "by", metavar="USER", help="Who starts the re-rating (recorded with it); default: the OS user.")
def rerate(file, overrides, as_of, out, log_path, calibration_run=None, db=None, by=None):
    """Re-rate off-cycle the customers whose triggers fire on fresh data.

    Reads the sources, evaluates every trigger against each customer's last
    stored rating (`change(x)`), and re-rates only the customers a trigger
    fires for, with the calibration frozen from the last full run (or
    --calibration RUN_ID): nobody else's rating moves. Each new rating is
    recorded with the trigger as its reason; `cap tier at`, `downgrade` and
    approved overrides set the final tier; `review` puts the customer on the
    review list.

    Example:

    \b
        tierwise rerate relationship_rating.tier --source orders=orders_0715.parquet --as-of 2026-07-15
    """
    from ..engine.plugin_api import DataError

    if out is not None and out.suffix.lower() not in (".csv", ".parquet", ".xlsx"):
        raise click.BadParameter("must end in .csv, .parquet or .xlsx", param_hint="--out")
    plan = load(file)
    if not plan.triggers:
        raise RuleErrors(f"{file} declares no trigger: nothing can fire a re-rating (`tierwise run` rates everyone)")
    refuse_overwriting_inputs(plan, file, overrides, {"--out": out, "--log": log_path})
    recording = recording_for(plan, file, overrides, db, by)
    recording.kind = "rerate"
    try:
        try:
            calibration, basis = recording.frozen_calibration(plan, calibration_run)
        except DataError as exc:
            raise RuleErrors(str(exc)) from None
        outcome = evaluate(plan, file, as_of, overrides, out, record=recording, calibration=calibration,
                           rerate=True)
        console().print(esc(f"re-rated {outcome.rows} customer(s) whose triggers fired, with the calibration of "
                            f"run {basis.id[:8]} (as of {basis.as_of}); every other rating stays as stored"),
                        highlight=False)
        if outcome.rows:
            print_rerated(outcome, recording.store)
    finally:
        recording.store.close()
    finish(outcome, out, log_path)


def print_rerated(outcome, store, limit: int = 20) -> None:
    """The re-rated customers: last stored final tier -> new computed and final tier, and the triggers."""
    from rich.table import Table

    table = Table(title=esc(f"re-rated, run {outcome.run_id[:8]}"))
    for col in (outcome.plan.key_column, "last tier", "score", "tier", "final tier", "triggers"):
        table.add_column(esc(col), justify="right" if col == "score" else "left")
    import pyarrow.parquet as pq

    present = set(pq.read_schema(outcome.result_path).names)
    rows = pq.read_table(outcome.result_path, columns=[c for c in (outcome.plan.key_column, "score", "tier",
                                                                   "final_tier", "triggers") if c in present]
                         ).to_pylist()
    for row in rows[:limit]:
        key = row[outcome.plan.key_column]
        before = [g for r, g in store.history(key, outcome.plan.name) if r.id != outcome.run_id]
        last = before[-1].final_tier if before else None
        score = row.get("score")
        table.add_row(esc(key), esc(last or "—"), "—" if score is None else f"{score:.2f}", esc(row.get("tier") or "—"),
                      esc(row.get("final_tier", row.get("tier")) or "—"), esc(row.get("triggers") or ""))
    console().print(table)
    if len(rows) > limit:
        console().print(f"… {len(rows) - limit} more; use --out FILE", highlight=False)


@dataclass
class Basis:
    """What one customer is rated against: a stored calibration (None: fit on the data read), the run
    it comes from, the last ratings (change()) and the approved overrides."""

    calibration: Calibration | None = None
    run: Run | None = None
    previous: object = None
    tier_overrides: object = None


def stored_basis(plan, file: Path, db: str | None, calibration_run: str | None, customers: list[str],
                 as_of: date, required: bool) -> Basis:
    """The basis from the rating store (--db, TIERWISE_DB, or tierwise.db beside the rule file). Without a
    store (or a full run in it) and not ``required``: an empty basis (the caller fits on the data)."""
    from ..engine.store_location import default_url, missing_sqlite_file

    url = db or default_url(file)
    absent = missing_sqlite_file(url)
    if absent is not None:  # nothing stored: the store (and SQLAlchemy) is not even imported
        if required or calibration_run:
            raise RuleErrors(f"no rating store at {absent}: `tierwise run` rates the whole "
                             f"population and records the calibration this uses (or give --db URL)")
        return Basis()
    from ..engine.plugin_api import DataError
    from ..engine.record import frozen_calibration, overrides_table, previous_table
    from ..engine.store import Store
    from ..engine.store.store import StoreError

    try:
        store = Store.open(url)
    except StoreError as exc:
        raise RuleErrors(str(exc)) from None
    calibration: Calibration | None
    run: Run | None
    try:
        try:
            calibration, run = frozen_calibration(store, plan, calibration_run)
        except DataError as exc:
            if required or calibration_run:
                raise RuleErrors(str(exc)) from None
            calibration = run = None
        tier_overrides, _ = overrides_table(store, plan, as_of, customers)
        return Basis(calibration, run, previous_table(store, plan, customers), tier_overrides)
    finally:
        store.close()


def basis_text(basis: Basis) -> str:
    if basis.run is None:
        return "calibration: fitted on the data read (no full run in the rating store)"
    return f"calibration: run {basis.run.id[:8]} (as of {basis.run.as_of}, by {basis.run.started_by})"


def calibration_option(fn):
    """--calibration RUN_ID and --db URL for the commands that rate against a stored full run."""
    fn = click.option("--db", "db", metavar="URL",
                      help="The rating store (a SQLAlchemy URL; the password from the environment). "
                           "Default: TIERWISE_DB, else tierwise.db beside the rule file.")(fn)
    return click.option("--calibration", "calibration_run", metavar="RUN_ID",
                        help="Score with the calibration of this run (see `tierwise runs`); "
                             "default: the last full run's.")(fn)


def rate_these(plan, file: Path, customers: list[str], overrides: dict[str, str], as_of: date, basis: Basis):
    from ..engine.plugin_api import DataError
    from ..engine.run import rate_customers

    try:
        return rate_customers(plan, registry(), file.parent, as_of, customers, overrides,
                              calibration=basis.calibration, previous=basis.previous,
                              tier_overrides=basis.tier_overrides)
    except DataError as exc:
        raise RuleErrors(str(exc)) from None


def not_found(plan, rated, customer: str) -> RuleErrors:
    close = closest_key(customer, rated.keys)
    return RuleErrors(f"no customer '{customer}' in {plan.key_column}" + (f" — did you mean '{close}'?" if close else ""))


@cli.command()
@backend_options
@click.argument("file", type=click.Path(path_type=Path))
@click.argument("customer")
@source_options
@calibration_option
@click.option("--out", type=click.Path(path_type=Path),
              help="Also write the scorecard as a rating form (.xlsx, with formulas that recompute when a points "
                   "cell is edited) or its lines as .csv / .parquet.")
@headers_option
def explain(file, customer, overrides, as_of, calibration_run=None, db=None, out=None, headers=None):
    """Show one customer's scorecard: value, band, points × weight, subtotals, tier.

    The contributions add up to the score (with additive scoring: the base, the
    points and the caps that bound). Under the score: the tier and its label,
    the final tier and why (an override, a trigger's effect), each trigger with
    what `change(x)` compared (the last stored value and the fresh one), each
    segment's value, the labels, and what the next tier up needs. The
    normalizers score with the calibration of the last full run in the rating
    store (or --calibration RUN_ID); without one they are fitted on the data.
    Exit code 1 when the customer has no score (a value missing under
    `missing -> error`). --out card.xlsx writes the scorecard as the rating
    form (客户关系评级表): the customer, each dimension with its weight, each
    indicator's value, points, weight and weighted score, the subtotals, the
    total, the tier and its label, as formulas over the points cells.

    Example:

        tierwise explain relationship_rating.tier KH00042 --as-of 2026-06-30 --out card.xlsx
    """
    from ..engine.explain import scorecard as build_scorecard

    if out is not None and out.suffix.lower() not in (".csv", ".parquet", ".xlsx"):
        raise click.BadParameter("must end in .csv, .parquet or .xlsx", param_hint="--out")
    plan = load(file, show_warnings=False)
    refuse_overwriting_inputs(plan, file, overrides, {"--out": out})
    key = customer.strip()
    basis = stored_basis(plan, file, db, calibration_run, [key], as_of, required=False)
    rated = rate_these(plan, file, [key], overrides, as_of, basis)
    if key not in rated.rows:
        raise not_found(plan, rated, customer)
    card = build_scorecard(plan, rated.calibration, rated.rows[key], as_of)
    scorecard(card)
    console().print(esc(basis_text(basis)), highlight=False)
    if out is not None:
        from ..engine.output import write_scorecard
        from ..engine.plugin_api import DataError

        try:
            write_scorecard(plan, card, out, headers)
        except DataError as exc:
            raise RuleErrors(str(exc)) from None
        except OSError as exc:
            raise RuleErrors(f"cannot write {out}: {exc.strerror or exc}") from None
        console().print(f"wrote the scorecard of {esc(card.key)} to {esc(out)}", highlight=False)
    if card.unscored_by_error:  # as `run`: only missing -> error fails
        sys.exit(1)


@cli.command(name="rate")
@backend_options
@click.argument("file", type=click.Path(path_type=Path))
@click.argument("customers", nargs=-1, required=True)
@source_options
@calibration_option
@click.option("--out", type=click.Path(path_type=Path), help="Write the ratings to .csv, .parquet or .xlsx.")
def rate_command(file, customers, overrides, as_of, calibration_run=None, db=None, out=None):
    """Rate a few customers with the calibration of the last full run, reading only their rows.

    The key filter is pushed into the sources, so one customer of millions is
    rated without reading the population (rules that rank customers or compare
    them with the population's mean read every row, and say so). Scores with
    the calibration of the last full run in the rating store (or --calibration
    RUN_ID); compares with each customer's last stored rating (`change(x)`) and
    applies approved overrides. Records nothing: `tierwise rerate` records.

    Example:

        tierwise rate relationship_rating.tier KH00042 KH00043 --as-of 2026-06-30
    """
    from rich.table import Table

    if out is not None and out.suffix.lower() not in (".csv", ".parquet", ".xlsx"):
        raise click.BadParameter("must end in .csv, .parquet or .xlsx", param_hint="--out")
    plan = load(file, show_warnings=False)
    keys = list(dict.fromkeys(c.strip() for c in customers))
    needs_calibration = any(i.normalizer for i in plan.indicators)
    basis = stored_basis(plan, file, db, calibration_run, keys, as_of, required=needs_calibration)
    rated = rate_these(plan, file, keys, overrides, as_of, basis)
    if rated.missing and len(rated.missing) == len(keys):
        raise not_found(plan, rated, rated.missing[0])
    columns = [plan.key_column, "score", "tier"] + (["tier_label"] if any(t.label for t in plan.tiers) else []) \
        + ["final_tier"] + [s.name for s in plan.segments] + (["labels"] if plan.labels else []) \
        + (["triggers"] if plan.triggers else [])
    table = Table(title=esc(f"{plan.name} — as of {as_of}"))
    for c in columns:
        table.add_column(esc(c), justify="right" if c == "score" else "left")
    for k in keys:
        if k in rated.rows:
            row = rated.rows[k]
            table.add_row(*(esc(_shown(row.get(c), c)) for c in columns))
    console().print(table)
    console().print(esc(basis_text(basis)), highlight=False)
    if rated.population:
        err_console().print("[yellow]note:[/yellow] " + esc(
            "these rules read the whole population (" + ", ".join(rated.population) + "), so every row of the "
            "sources was read for them"), highlight=False)
    for k in rated.missing:
        close = closest_key(k, rated.keys)
        err_console().print("[yellow]warning:[/yellow] " + esc(f"no customer '{k}' in {plan.key_column}"
                            + (f" — did you mean '{close}'?" if close else "")), highlight=False)
    if out is not None:
        import pyarrow as pa

        from ..engine.columns import default_columns
        from ..engine.output import write_output

        default = default_columns(plan, True)
        write_output(pa.Table.from_pylist([{c: rated.rows[k].get(c) for c in default} for k in keys
                                           if k in rated.rows]), out)
        console().print(f"wrote {len(keys) - len(rated.missing)} rating(s) to {esc(out)}", highlight=False)
    if rated.missing:
        sys.exit(1)


def _shown(value, column: str) -> str:
    if value is None:
        return "—"
    if column == "score" and isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def closest_key(typed: str, keys: list[str]) -> str | None:
    """The customer key meant by ``typed``: the same ignoring case and spaces (k1 for K1, "KH 001" for
    KH001), else a close one starting alike."""
    from ..dsl.diagnostics import suggest

    def fold(text: str) -> str:
        return "".join(text.split()).casefold()

    want = fold(typed)
    folded: dict[str, str] = {}
    for k in keys:
        if k is not None and str(k).strip():
            folded.setdefault(fold(str(k)), str(k))
    if want in folded:
        return folded[want]
    pool = [f for f in folded if f[:1] == want[:1]][:50_000]
    close = suggest(want, pool)
    return folded[close] if close is not None else None


@cli.command(name="test")
@backend_options
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--as-of", "as_of", type=DATE, metavar="DATE",
              help=f"Date for examples that give no as_of, {AS_OF_HELP}; default: today.")
def test_command(paths, as_of):
    """Run the `example` blocks of rule files (a file or every .tier in a directory).

    Exit code 1 when an example fails, showing expected against got. A file
    without examples gets a warning (exit code 0).

    Example:

        tierwise test .
    """
    from ..engine.examples import ExampleResult, run_example
    from ..engine.plugin_api import DataError

    day = as_of or date.today()
    files = rule_files(paths)
    passed = failed = 0
    for f in files:
        try:
            plan = load(f)  # warnings too: an example may rest on something a warning explains
        except RuleErrors as exc:
            exc.show()
            failed += 1
            continue
        if not plan.examples:  # nothing to run is not a failure, but it is worth saying
            err_console().print("[yellow]warning:[/yellow] " + esc(
                f"{f}: no examples to run — add `example \"NAME\" {{ … expect score S, tier X }}` blocks "
                f"(see docs/language.md)"), highlight=False)
        for ex in plan.examples:
            try:
                res = run_example(plan, registry(), ex, day)
            except DataError as exc:  # the example's data cannot be evaluated: a failing example, not a crash
                res = ExampleResult(ex.name, False, [f"cannot evaluate: {exc}"], line=ex.span.line if ex.span else 0)
            if res.passed:
                passed += 1
                got = (f"score {res.score:.6g}" if res.score is not None else "no score") + \
                    (f", tier {res.tier}" if res.tier is not None else ", no tier")
                console().print("[green]PASS[/green] " + esc(f"{f}:{res.line} {ex.name} ({got})"), highlight=False)
            else:
                failed += 1
                console().print(f"[red]FAIL[/red] {esc(f)}:{res.line} {esc(ex.name)}", highlight=False)
                for msg in res.failures:
                    console().print(f"     {esc(msg)}", highlight=False)
    console().print(f"{passed} passed, {failed} failed", highlight=False)
    if failed:
        sys.exit(1)


@cli.command()
@click.argument("directory", required=False, default="tierwise-demo", type=click.Path(path_type=Path))
@click.option("--customers", default=3000, show_default=True, type=click.IntRange(min=1),
              help="How many customers to generate.")
@click.option("--seed", default=7, show_default=True, type=click.IntRange(min=0),
              help="Random seed of the generated data.")
def demo(directory, customers, seed):
    """Write realistic sample data and rate it with the shipped relationship rating.

    Writes a GBK-encoded CRM export (CSV), an ERP order log (Parquet) and
    service tickets (Excel) into DIRECTORY (default: tierwise-demo), with the
    ruleset, then runs it end to end (recorded in DIRECTORY/tierwise.db). Also
    writes what the other commands' examples use: the ERP export two weeks
    later (orders_0715.parquet: some customers' sales fell), a challenger
    version of the ruleset (relationship_rating_2026.2.tier) and a
    tierwise.toml with a pool of key-account managers. Every example in this
    help runs as written in DIRECTORY.

    Example:

        tierwise demo
    """
    from ..rulesets.demo_data import CHALLENGER, write_demo_data, write_walkthrough_files

    as_of = date(2026, 6, 30)
    if directory.exists() and not directory.is_dir():
        raise click.UsageError(f"{directory} is a file: give a directory for the demo data")
    try:
        paths = write_demo_data(directory, customers=customers, seed=seed, as_of=as_of)
        paths += write_walkthrough_files(directory, as_of=as_of)
    except OSError as exc:
        raise RuleErrors(f"cannot write the demo data to {directory}: {exc.strerror or exc}") from None
    console().print(esc(f"wrote demo data to {directory}: " + ", ".join(p.name for p in paths)), highlight=False)
    ruleset = next(p for p in paths if p.suffix == ".tier")
    ctx = click.get_current_context()
    ctx.invoke(test_command, paths=(ruleset,), as_of=as_of)
    ctx.invoke(run_command, file=ruleset, sources=(), as_of=as_of,
               out=directory / "ratings.xlsx", log_path=None)
    first = _first_key(directory / "ratings.xlsx")
    if first:
        console().print(esc(f"\nnext, in {directory} (cd {directory}; every example of `tierwise COMMAND --help` "
                            f"runs there):\n"
                            f"  explain one customer:  tierwise explain {ruleset.name} {first} --as-of {as_of}\n"
                            f"  try the new version:   tierwise diff {ruleset.name} {CHALLENGER} --as-of {as_of}"),
                        highlight=False)


def _first_key(path: Path) -> str | None:
    from openpyxl import load_workbook
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    wb = load_workbook(path, read_only=True)
    sheet = wb.active
    assert isinstance(sheet, ReadOnlyWorksheet)  # the results tierwise wrote: their sheet, read-only
    for i, row in enumerate(sheet.iter_rows(values_only=True)):
        if i == 1:
            return str(row[0])
    return None


@cli.command()
def plugins():
    """List installed plugins and what each provides.

    Example:

        tierwise plugins
    """
    from rich.table import Table

    reg = registry()
    table = Table("plugin", "connectors", "normalizers", "actions", "functions")
    for p in reg.plugins():
        prov = p["provides"]
        table.add_row(esc(p["plugin"]), *(esc(", ".join(prov.get(k, []))) for k in
                                     ("connectors", "normalizers", "actions", "functions")))
    console().print(table)


def main() -> None:
    """The ``tierwise`` command. It leaves through ``leave``: the command's work is done and flushed, and
    Python's teardown of the modules it loaded (what Ibis, sqlglot and pydantic build at import) would
    add ~0.45 s to every command."""
    try:
        cli(prog_name="tierwise")
    except SystemExit as exc:
        leave(exc.code)
    leave(0)


def leave(code: object) -> None:
    """Exit with ``code`` as ``sys.exit`` would, after the exit handlers (temporary directories of runs,
    logging), without freeing every object one by one (the process ends: the OS reclaims its memory)."""
    import atexit
    import os

    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe (`| head`) or stream: nothing left to write to
                pass
        os._exit(code or 0)


def _register_store_commands() -> None:
    from . import actions, decisions, diff, history, managers, report

    for command in (*history.COMMANDS, *decisions.COMMANDS, *actions.COMMANDS, *managers.COMMANDS,
                    *report.COMMANDS, *diff.COMMANDS):
        cli.add_command(command)


if __name__ == "__main__":  # python -m tierwise.cli.main: run the module the package imports, not a second copy
    from tierwise.cli.main import main as package_main

    package_main()
else:
    _register_store_commands()
