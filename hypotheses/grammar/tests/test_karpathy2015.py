"""The karpathy2015 study: its quick run through the CLI gives every claim a verdict."""
import subprocess
import sys

import pytest

from hyplib.testing import held_on_control, quick_study


def test_quick_run_judges_every_claim(tmp_path):
    record, folder, out = quick_study("karpathy2015", tmp_path)
    assert [c["id"] for c in record["claims"]] == [
        "in_string", "in_string.learned", "in_comment", "in_comment.learned", "bracket_depth",
        "bracket_depth.learned", "position_in_line.learned"]
    assert [c["id"] for c in record["checks"]] == ["position_in_line"]
    assert all(c["verdict"] in ("held", "not held") for c in record["claims"] + record["checks"])
    for c in record["claims"]:  # judged on the lower end of the interval
        assert c["ci_low"] <= c["reproduced"] <= c["ci_high"]
        assert (c["verdict"] == "held") == (c["ci_low"] >= float(c["criterion"].split()[-1]))
    for short in ("in_string", "position_in_line"):
        assert record["figures"][f"learned_gain.{short}"] == pytest.approx(
            record["figures"][f"best_abs_r.{short}"]
            - record["figures"][f"best_abs_r_untrained.{short}"])
    assert all(0 <= record["figures"][f"best_abs_r.{k}"] <= 1
               for k in ("in_string", "in_comment", "bracket_depth", "position_in_line"))
    for name in ("best_abs_r.png", "unit_in_string.png", "unit_in_string.html", "report.md"):
        assert (folder / name).stat().st_size > 500
    assert "in_string.learned" in out
    site = (folder / "site" / "index.html").read_text()  # the browsable report, linked
    assert "charlm:cells.1[" in site and "[site/index.html]" in (
        folder / "report.md").read_text()
    assert list((folder / "site" / "unit").glob("charlm_*.html"))


def test_listed():
    run = subprocess.run([sys.executable, "-m", "hyplib.cli", "repro", "--list"],
                         capture_output=True, text=True)
    assert run.stdout.startswith("karpathy2015") or "\nkarpathy2015" in run.stdout


def test_every_claim_fails_on_the_untrained_control(tmp_path):
    assert held_on_control("karpathy2015", tmp_path) == []
