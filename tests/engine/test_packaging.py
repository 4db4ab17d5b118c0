"""The wheel carries every subpackage and data file (setup.py maps the repository root onto `tierwise`)."""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_every_subpackage_and_data_file(tmp_path):
    # built from a copy: a build/ directory left in the checkout would hide a missing package
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "data",
                                                              "__pycache__", ".hypothesis", "demo"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path)], check=True, capture_output=True, cwd=tmp_path)
    [wheel] = tmp_path.glob("tierwise-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {str(p.parent.relative_to(ROOT)) for p in ROOT.glob("*/**/__init__.py")
                if p.parts[len(ROOT.parts)] in ("engine", "dsl", "plugins", "rulesets", "cli")}
    assert packages >= {"engine", "engine/backends", "dsl", "cli", "plugins", "rulesets"}
    for pkg in packages:
        assert f"tierwise/{pkg}/__init__.py" in names, pkg
    assert "tierwise/dsl/grammar.lark" in names
    assert {"tierwise/engine/store/migrations/env.py", "tierwise/engine/store/migrations/script.py.mako",
            "tierwise/engine/store/migrations/versions/0001_runs_and_ratings.py",
            "tierwise/engine/store/migrations/versions/0002_overrides_audit_review.py"} <= names
    assert {f"tierwise/rulesets/{p.name}" for p in (ROOT / "rulesets").glob("*.tier")} <= names
