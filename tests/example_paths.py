"""Where the tests find the repository and the shared example rule files (a module of its own, not
conftest: several test directories have a conftest.py, and ``from conftest import ...`` picks whichever
was imported first when those directories run in one pytest call)."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def shared_example(name: str) -> Path:
    """A rule file of shared/examples: the workspace's own copy when the clone sits beside it,
    else the copy kept in tests/shared_examples (a clone on its own, e.g. in /tmp)."""
    beside = ROOT.parent / "shared" / "examples" / name
    return beside if beside.exists() else ROOT / "tests" / "shared_examples" / name
