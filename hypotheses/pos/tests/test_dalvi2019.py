"""The dalvi2019 study: its quick run ranks, retrains and ablates, and judges every claim."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

UD_DIR = Path(os.environ.get("HYPLIB_UD_EWT")
              or Path(__file__).resolve().parents[4] / "shared/data/ud-english-ewt")


def test_quick_run_judges_every_claim(tmp_path):
    if not (UD_DIR / "en_ewt-ud-train.conllu").is_file():
        pytest.skip(f"UD English-EWT is not at {UD_DIR}: set HYPLIB_UD_EWT to a folder holding "
                    f"en_ewt-ud-{{train,dev,test}}.conllu")
    run = subprocess.run([sys.executable, "-m", "hyplib.cli", "repro", "dalvi2019", "--quick",
                          "--out", str(tmp_path), "--quiet", "--device", "cpu"],
                         capture_output=True, text=True,
                         env={**os.environ, "HYPLIB_UD_EWT": str(UD_DIR)})
    assert run.returncode == 0, run.stderr
    folder = tmp_path / "dalvi2019"
    record = json.loads((folder / "claims.json").read_text())
    assert [c["id"] for c in record["claims"]] == ["top_set_suffices", "top_beats_random",
                                                   "ablating_top_hurts_most", "top_over_bottom"]
    assert all(c["verdict"] in ("held", "not held") for c in record["claims"])
    f = record["figures"]
    assert f["k"] == 3  # 10% of the tiny model's 32 units
    assert f["top_share_of_full_accuracy"] == pytest.approx(f["accuracy.top"] / f["accuracy.all"])
    ablation = pd.read_csv(folder / "ablation.csv")
    assert list(ablation["units"]) == ["top", "bottom"] + [f"random{i}" for i in range(1, 6)]
    sets = [set(map(int, s.split())) for s in ablation["indices"]]
    assert all(len(s) == 3 for s in sets) and not sets[0] & sets[1]
    # every ablation changes the model: the loss moves, and each set's rise is its own
    assert (ablation["rise_over_intact"].abs() > 1e-6).all()
    assert f["loss_rise.top"] == pytest.approx(ablation["rise_over_intact"][0])
    assert (folder / "ablation.png").stat().st_size > 2000
