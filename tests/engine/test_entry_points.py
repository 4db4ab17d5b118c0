"""A third-party plugin installed from a test-local package is found and usable from a rule file."""
import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "plugin_package"

RULES = """\
source c = csv("c.csv") key id
points 0..10
indicator big = double(c.x) weight 100% scale step(at: 10)
tier HIGH when score >= 10
tier LOW otherwise
example "at the step" {
  c id "k", x 5
  expect score 10, tier HIGH
}
"""


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory):
    target = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("src") / "plugin_package"
    shutil.copytree(PACKAGE, source)  # setuptools builds in the source tree: keep ours clean
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True, cwd=source)
    return target


def tierwise(args, site, cwd):
    env = dict(os.environ, PYTHONPATH=str(site))
    return subprocess.run([sys.executable, "-c", "from tierwise.cli.main import main; main()", *args],
                          capture_output=True, text=True, env=env, cwd=cwd)


def test_installed_plugin_is_listed(plugin_site, tmp_path):
    out = tierwise(["plugins"], plugin_site, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "step" in out.stdout and "double" in out.stdout


def test_installed_plugin_works_from_a_rule_file(plugin_site, tmp_path):
    (tmp_path / "r.tier").write_text(RULES, encoding="utf-8")
    (tmp_path / "c.csv").write_text("id,x\na,4\nb,5\nc,6\n", encoding="utf-8")
    checked = tierwise(["check", "r.tier"], plugin_site, tmp_path)
    assert checked.returncode == 0, checked.stderr
    tested = tierwise(["test", "r.tier"], plugin_site, tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    ran = tierwise(["run", "r.tier", "--out", "o.csv"], plugin_site, tmp_path)
    assert ran.returncode == 0, ran.stderr
    with open(tmp_path / "o.csv", encoding="utf-8-sig", newline="") as fh:
        tiers = {row["id"]: row["tier"] for row in csv.DictReader(fh)}
    assert tiers == {"a": "LOW", "b": "HIGH", "c": "HIGH"}


def test_without_the_plugin_the_rule_file_is_an_error(tmp_path):
    (tmp_path / "r.tier").write_text(RULES, encoding="utf-8")
    out = tierwise(["check", "r.tier"], tmp_path / "nothing", tmp_path)
    assert out.returncode == 1
    assert "r.tier:3:" in out.stderr and "no plugin provides normalizer 'step'" in out.stderr
    assert "Traceback" not in out.stderr
