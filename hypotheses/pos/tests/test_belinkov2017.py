"""The belinkov2017 study: its quick run through the CLI gives every claim a verdict."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

UD_DIR = Path(os.environ.get("HYPLIB_UD_EWT")
              or Path(__file__).resolve().parents[4] / "shared/data/ud-english-ewt")


def test_quick_run_judges_every_claim(tmp_path):
    if not (UD_DIR / "en_ewt-ud-train.conllu").is_file():
        pytest.skip(f"UD English-EWT is not at {UD_DIR}: set HYPLIB_UD_EWT to a folder holding "
                    f"en_ewt-ud-{{train,dev,test}}.conllu")
    run = subprocess.run([sys.executable, "-m", "hyplib.cli", "repro", "belinkov2017", "--quick",
                          "--out", str(tmp_path), "--quiet", "--device", "cpu"],
                         capture_output=True, text=True,
                         env={**os.environ, "HYPLIB_UD_EWT": str(UD_DIR)})
    assert run.returncode == 0, run.stderr
    folder = tmp_path / "belinkov2017"
    record = json.loads((folder / "claims.json").read_text())
    assert [c["id"] for c in record["claims"]] == ["layer1_over_embeddings", "layer2_not_better",
                                                   "far_above_majority"]
    assert all(c["verdict"] in ("held", "not held") for c in record["claims"])
    figures = record["figures"]
    acc = {layer: figures[f"accuracy.{layer}"] for layer in ("embed", "lstm.0", "lstm.1")}
    assert all(0 < a <= 1 for a in acc.values())
    assert figures["gain.lstm.0_over_embed"] == pytest.approx(acc["lstm.0"] - acc["embed"])
    assert figures["min_margin_over_majority"] == pytest.approx(
        min(acc.values()) - figures["majority"])
    for name in ("probe_accuracy.png", "report.md", "scores.csv"):
        assert (folder / name).stat().st_size > 500
    assert "layer2_not_better" in run.stdout
