"""The command line, end to end in a subprocess, on the tiny char-LSTM recipe."""
import os
import re
import subprocess
import sys

import pandas as pd


def _hyplib(*args):
    return subprocess.run([sys.executable, "-m", "hyplib.cli", *args], capture_output=True,
                          text=True, env={**os.environ, "HYPLIB_PLUGINS": "text,grammar,zoo"})


def test_inspect_tiny_charlm_end_to_end(tmp_path):
    out = tmp_path / "r.csv"
    run = _hyplib("inspect", "--model", "charlm-tiny", "--data", "python-stdlib",
                  "--hypotheses", "grammar.python.in_*", "text.position_in_line",
                  "--max-records", "60", "--top", "2", "--out", str(out), "--quiet")
    assert run.returncode == 0, run.stderr
    assert re.match(r"charlm-tiny on python-stdlib: 60 of \d+ records \(sample limit\)", run.stdout)
    shown = [line.split() for line in run.stdout.splitlines()[2:]]
    assert [row[0] for row in shown] == ["grammar.python.in_comment"] * 2 + [
        "grammar.python.in_string"] * 2 + ["text.position_in_line"] * 2
    assert all(row[1:3] == ["correlation", "r"] for row in shown)
    assert all(row[3].startswith("charlm-tiny:lstm.") and -1 <= float(row[4]) <= 1 for row in shown)
    table = pd.read_csv(out)
    assert len(table) == 2 * 48 * 3 and table["n"].nunique() == 1
    assert set(table["unit_name"].str.extract(r":(lstm\.\d)\[")[0]) == {"lstm.0", "lstm.1"}


def test_version_and_list():
    from hyplib import __version__

    assert _hyplib("--version").stdout.strip() == f"hyplib {__version__}"
    listing = _hyplib("list").stdout
    for name in ("grammar.python.in_string", "text.position_in_line", "correlation", "charlm",
                 "python-stdlib"):
        assert name in listing


def test_bad_names_exit_2_with_a_hint():
    run = _hyplib("inspect", "--model", "charlm-tiny", "--data", "python-stdlib",
                  "--hypotheses", "grammar.python.in_strng")
    assert run.returncode == 2
    assert "unknown hypothesis 'grammar.python.in_strng': did you mean 'grammar.python.in_string'" \
        in run.stderr
    run = _hyplib("inspect", "--model", "charlm-tiny", "--data", "python-stdlib",
                  "--hypotheses", "text.*", "--layer", "lstm.2", "--quiet")
    assert run.returncode == 2 and "valid layers (dotted module names): embed, lstm, lstm.0" in run.stderr


def test_repro_refuses_a_scale_or_control_a_study_lacks(tmp_path):
    run = _hyplib("repro", "karpathy2015", "--scale", "paper", "--device", "cpu", "--out",
                  str(tmp_path))
    assert run.returncode == 2
    assert ("--scale paper runs karpathy2015 at the paper's size (3 layers of 512 units"
            in run.stderr and "needs a GPU" in run.stderr)
    run = _hyplib("repro", "luigi-fsm", "--scale", "paper", "--device", "cpu")
    assert run.returncode == 2 and "has no paper-scale configuration" in run.stderr
    assert not any(tmp_path.iterdir())  # refused before running: nothing written
