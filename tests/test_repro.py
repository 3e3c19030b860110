"""The claim machinery: verdicts, reports, and a claim that must fail failing."""
import json
import math

import pytest

from hyplib import inspect
from hyplib.repro import VERDICTS, Claim, Outcome, Study, judge, run_study


def test_judge_held_not_held_and_not_applicable():
    c = Claim("c1", "units track digits", "best_r", ">=", 0.5, published="r = 0.9")
    assert c.criterion == "best_r >= 0.5"
    assert judge(c, {"best_r": 0.7}).verdict == "held"
    miss = judge(c, {"best_r": 0.2})
    assert (miss.verdict, miss.why) == ("not held", "0.2 misses best_r >= 0.5")
    assert judge(c, {}).verdict == "not applicable"
    assert judge(c, {"best_r": math.nan}).why == "the figure is undefined (NaN)"
    assert judge(Claim("c2", "s", "err", "<", 0.1), {"err": 0.1}).verdict == "not held"
    with pytest.raises(ValueError, match="op must be one of"):
        Claim("c3", "s", "x", "=>", 1)


def test_run_study_writes_report_and_a_false_claim_fails(planted, records, tmp_path):
    from .conftest import digit

    def run(ctx):
        result = inspect(planted, records, [digit], progress=False, device=ctx.device)
        best = float(result.table["score"].abs().max())
        return Outcome({"best_r": best}, {"scores": result.table}, [], ["planted model"])

    study = Study("planted", "Planted units", "nobody (2026)", "A planted digit unit.", run,
                  (Claim("found", "a unit tracks digits", "best_r", ">=", 0.3),
                   Claim("impossible", "a unit tracks digits perfectly", "best_r", ">=", 0.999),
                   Claim("absent", "a figure nobody measured", "nothing", ">", 0)),
                  deviations=("planted, not trained",))
    table, folder, _ = run_study(study, quick=True, device="cpu", out=tmp_path, progress=False)
    assert table["verdict"].tolist() == ["held", "not held", "not applicable"]
    assert set(table["verdict"]) <= set(VERDICTS)
    saved = json.loads((folder / "claims.json").read_text())
    assert saved["mode"] == "quick" and saved["figures"]["best_r"] > 0.3
    report = (folder / "report.md").read_text()
    assert "| impossible | a unit tracks digits perfectly | — | `best_r >= 0.999` |" in report
    assert report.count("Smoke test (`--quick`)") == 1 and "(smoke test: not evidence)" in report
    assert "- planted, not trained" not in report and (folder / "scores.csv").exists()
    assert saved["provenance"]["hyplib"] and saved["provenance"]["device"] == "cpu"
    full = run_study(study, quick=False, device="cpu", out=tmp_path / "full", progress=False)[1]
    report = (full / "report.md").read_text()
    assert "Smoke test" not in report and "- planted, not trained" in report
