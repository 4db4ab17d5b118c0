"""The run's progress display: drawn on a terminal with the backend's own percentage, silent elsewhere."""
import io
import threading
import time

from rich.console import Console

from tierwise.cli.progress import TerminalProgress, progress_for
from tierwise.engine.backends import open_backend
from tierwise.engine.progress import SILENT


def test_a_terminal_shows_the_step_and_the_backends_percentage():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=80)
    seen = []

    def poll():
        seen.append(len(seen) * 10.0)
        return seen[-1]

    with progress_for(console).step("scoring", poll):
        time.sleep(0.5)
    text = out.getvalue()
    assert isinstance(progress_for(console), TerminalProgress)
    assert "scoring" in text and "%" in text
    assert len(seen) >= 2


def test_output_that_is_not_a_terminal_gets_no_display():
    out = io.StringIO()
    console = Console(file=out, force_terminal=False)
    assert progress_for(console) is SILENT
    with progress_for(console).step("reading"):
        pass
    assert out.getvalue() == ""


def test_duckdb_reports_the_progress_of_a_running_query():
    backend = open_backend("duckdb")
    assert backend.query_progress() is None  # no query under way
    seen: list[float] = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            pct = backend.query_progress()
            if pct is not None:
                seen.append(pct)
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        backend.con.raw_sql("SELECT count(*) FROM (SELECT range % 1000 AS a, sum(range) FROM range(80000000) "
                            "GROUP BY 1)").fetchall()
    finally:
        stop.set()
        watcher.join()
        backend.close()
    assert seen and all(0 <= p <= 100 for p in seen)
