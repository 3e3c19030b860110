"""The karpathy2015 study: its quick run through the CLI gives every claim a verdict."""
import json
import os
import subprocess
import sys


def test_quick_run_judges_every_claim(tmp_path):
    run = subprocess.run([sys.executable, "-m", "hyplib.cli", "repro", "karpathy2015", "--quick",
                          "--out", str(tmp_path), "--quiet", "--device", "cpu"],
                         capture_output=True, text=True, env=os.environ)
    assert run.returncode == 0, run.stderr
    folder = tmp_path / "karpathy2015"
    record = json.loads((folder / "claims.json").read_text())
    assert len(record["claims"]) == 8
    assert all(c["verdict"] in ("held", "not held") for c in record["claims"])
    assert all(0 <= record["figures"][f"best_abs_r.{k}"] <= 1
               for k in ("in_string", "in_comment", "bracket_depth", "position_in_line"))
    for name in ("best_abs_r.png", "unit_in_string.png", "unit_in_string.html", "report.md"):
        assert (folder / name).stat().st_size > 500
    assert "in_string.learned" in run.stdout


def test_listed():
    run = subprocess.run([sys.executable, "-m", "hyplib.cli", "repro", "--list"],
                         capture_output=True, text=True)
    assert run.stdout.startswith("karpathy2015") or "\nkarpathy2015" in run.stdout
