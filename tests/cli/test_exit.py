"""The `tierwise` command leaves without Python's module teardown (cli.main.leave): its exit code, its
output (also into a pipe that closes early) and the cleaning up of a run's temporary files are what a
normal exit gives."""
import os
import subprocess
import sys

RULES = """source c = csv("c.csv") key id
points 0..10
indicator x = c.x weight 100% {
  >= 5 -> 10
  else -> 0
}
tier A when score >= 5
tier B otherwise
on tier A -> log(message: "A 客户")
"""


def tierwise(args, cwd, tmp):
    env = dict(os.environ, TMPDIR=str(tmp))
    return subprocess.run([sys.executable, "-c", "from tierwise.cli.main import main; main()", *args],
                          capture_output=True, text=True, env=env, cwd=cwd)


def test_a_run_exits_0_with_its_output_and_leaves_no_temporary_files(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    (tmp_path / "r.tier").write_text(RULES, encoding="utf-8")
    (tmp_path / "c.csv").write_text("id,x\nK1,4\nK2,6\n", encoding="utf-8")
    out = tierwise(["run", "r.tier", "--as-of", "2026-06-30", "--no-store", "--out", "o.csv", "--log", "a.log"],
                   tmp_path, tmp)
    assert out.returncode == 0, out.stderr
    assert "wrote 2 ratings" in out.stdout
    assert (tmp_path / "o.csv").read_text(encoding="utf-8-sig").splitlines()[0].startswith('"id","score"')
    assert "customer=K2" in (tmp_path / "a.log").read_text(encoding="utf-8")
    # the run's scratch directory went with it (DuckDB's spill directory and Lark's grammar cache stay)
    assert sorted(p.name for p in tmp.iterdir() if not p.name.startswith(".lark_cache")) == ["tierwise-spill"]


def test_a_failing_command_keeps_its_exit_code_and_message(tmp_path):
    (tmp_path / "bad.tier").write_text("indicator = \n", encoding="utf-8")
    out = tierwise(["check", "bad.tier"], tmp_path, tmp_path)
    assert out.returncode == 1 and "bad.tier:1:" in out.stderr
    assert tierwise(["run", "--no-such-option"], tmp_path, tmp_path).returncode == 2  # a usage error


def test_output_into_a_pipe_closed_early_ends_quietly(tmp_path):
    code = "from tierwise.cli.main import main; main()"
    p = subprocess.Popen([sys.executable, "-c", code, "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.read(10)
    p.stdout.close()
    err = p.stderr.read().decode()
    p.wait(timeout=60)
    assert "Traceback" not in err


def test_python_dash_m_runs_the_command(tmp_path):
    """`python -m tierwise` (no console script on PATH) and `python -m tierwise.cli.main` are the command:
    the same output and exit codes (the module run as __main__ used to import itself a second time)."""
    (tmp_path / "r.tier").write_text(RULES, encoding="utf-8")
    (tmp_path / "bad.tier").write_text(RULES.replace("weight 100%", "weight 90%"), encoding="utf-8")
    for module in ("tierwise", "tierwise.cli.main"):
        ok = subprocess.run([sys.executable, "-m", module, "check", "r.tier"], capture_output=True, text=True,
                            cwd=tmp_path)
        assert ok.returncode == 0 and "r.tier" in ok.stdout, ok.stderr
        bad = subprocess.run([sys.executable, "-m", module, "check", "bad.tier"], capture_output=True, text=True,
                             cwd=tmp_path)
        assert bad.returncode == 1 and "Traceback" not in bad.stderr + bad.stdout
        assert "100%" in bad.stdout + bad.stderr
