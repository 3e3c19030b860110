"""The claim machinery: verdicts, reports, and a claim that must fail failing."""
import dataclasses
import json
import math

import pytest

from hyplib import inspect
from hyplib.repro import VERDICTS, Claim, Outcome, Study, StudyError, judge, run_study


def test_judge_held_not_held_and_not_applicable():
    c = Claim("c1", "units track digits", "best_r", ">=", 0.5, published="r = 0.9")
    assert c.criterion == "best_r >= 0.5"
    assert judge(c, {"best_r": 0.7}).verdict == "held"
    miss = judge(c, {"best_r": 0.2})
    assert (miss.verdict, miss.why) == ("not held", "0.2 (no interval: judged on the value) "
                                                    "misses best_r >= 0.5")
    assert judge(c, {}).verdict == "not applicable"
    assert judge(c, {"best_r": math.nan}).why == "the figure is undefined (NaN)"
    assert judge(Claim("c2", "s", "err", "<", 0.1), {"err": 0.1}).verdict == "not held"
    with pytest.raises(ValueError, match="op must be one of"):
        Claim("c3", "s", "x", "=>", 1)


def test_a_claim_is_judged_on_its_interval():
    c = Claim("c1", "units track digits", "best_r", ">=", 0.5)
    assert judge(c, {"best_r": 0.7}, {"best_r": (0.6, 0.8)}).verdict == "held"
    low = judge(c, {"best_r": 0.7}, {"best_r": (0.45, 0.9)})
    assert (low.verdict, low.ci_low, low.ci_high) == ("not held", 0.45, 0.9)
    assert low.why == "0.7 (95% interval [0.45, 0.9]) misses best_r >= 0.5"
    at_most = Claim("c2", "s", "share", "<=", 0.1)
    assert judge(at_most, {"share": 0.05}, {"share": (0.0, 0.12)}).verdict == "not held"
    assert judge(at_most, {"share": 0.05}, {"share": (0.0, 0.09)}).verdict == "held"
    assert "no interval" in judge(at_most, {"share": 0.05}).why
    band = Claim("c3", "no better, slightly worse", "gain", "within", -0.04, upper=0.01)
    assert band.criterion == "gain within [-0.04, 0.01]"
    assert judge(band, {"gain": -0.01}, {"gain": (-0.03, 0.005)}).verdict == "held"
    assert judge(band, {"gain": -0.01}, {"gain": (-0.05, 0.005)}).verdict == "not held"
    assert judge(band, {"gain": -0.17}).verdict == "not held"  # a collapse is not a dip
    with pytest.raises(ValueError, match="upper exactly when op is 'within'"):
        Claim("c4", "s", "x", "within", 0.0)


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


def _study(**kw):
    def run(ctx):
        best = 0.1 if ctx.control == "untrained" else 0.9
        return Outcome({"best_r": best}, intervals={"best_r": (best - 0.05, best + 0.05)},
                       notes=[f"scale {ctx.scale}, quick {ctx.quick}"])

    return Study("toy", "Toy", "nobody", "A toy.", run,
                 (Claim("found", "a unit tracks digits", "best_r", ">=", 0.5, "Fig. 1"),),
                 checks=(Claim("ours", "an extra check", "best_r", ">=", 0.0),), **kw)


def test_checks_are_reported_apart_and_a_control_runs_in_its_own_folder(tmp_path):
    study = _study(controls=("untrained",))
    study = dataclasses.replace(study, claims=study.claims + (
        Claim("piped", "a unit reaches |r| >= 0.5", "best_r", ">=", 0.5),))
    table, folder, _ = run_study(study, device="cpu", out=tmp_path, progress=False)
    assert table[["kind", "id", "verdict"]].values.tolist() == [
        ["claim", "found", "held"], ["claim", "piped", "held"], ["check", "ours", "held"]]
    saved = json.loads((folder / "claims.json").read_text())
    assert [c["id"] for c in saved["claims"]] == ["found", "piped"]
    assert saved["checks"][0]["id"] == "ours"
    assert saved["intervals"] == {"best_r": pytest.approx([0.85, 0.95])}
    assert saved["control"] is None
    report = (folder / "report.md").read_text()
    assert "## Extra checks (ours, not the paper's claims)" in report
    assert ("| found | a unit tracks digits | Fig. 1 | `best_r >= 0.5` | 0.9 | [0.85, 0.95] |"
            in report)
    assert "| piped | a unit reaches \\|r\\| >= 0.5 | — |" in report  # a pipe splits no cell
    table, folder, _ = run_study(study, device="cpu", out=tmp_path, progress=False,
                                 control="untrained")
    assert folder.name == "toy.control-untrained" and table["verdict"][0] == "not held"
    assert "Negative control (`--control untrained`)" in (folder / "report.md").read_text()


def test_scales_and_controls_a_study_lacks_are_refused(tmp_path):
    with pytest.raises(StudyError, match="no negative control 'shuffled' .its controls: none"):
        run_study(_study(), device="cpu", out=tmp_path, control="shuffled")
    with pytest.raises(StudyError, match="no paper-scale configuration"):
        run_study(_study(), device="cpu", out=tmp_path, scale="paper")
    with pytest.raises(StudyError, match="needs a GPU, but the device is the CPU"):
        run_study(_study(paper="3 × 512"), device="cpu", out=tmp_path, scale="paper")
    with pytest.raises(StudyError, match="unknown scale 'huge'"):
        run_study(_study(), device="cpu", out=tmp_path, scale="huge")
    _, folder, _ = run_study(_study(), device="cpu", out=tmp_path, quick=True, progress=False)
    assert json.loads((folder / "claims.json").read_text())["notes"] == ["scale quick, quick True"]
