"""Study bau2017 at its quick size: it runs, judges every claim and writes its report."""
import json

from hyplib_vision.studies import BAU2017, CATEGORIES

from hyplib.study import run_study


def test_quick_run_writes_a_report(tmp_path):
    table, folder, outcome = run_study(BAU2017, quick=True, out=tmp_path, progress=False)
    claims = table[table["kind"] == "claim"]
    assert set(claims["verdict"]) <= {"held", "not held"}  # every claim measured
    f = outcome.figures
    for net in ("mobilenet_v2", "scenecnn"):
        assert f[f"unique_gain.{net}"] == (f[f"unique_detectors.{net}"]
                                           - f[f"unique_detectors.{net}-random"])
        low, high = outcome.intervals[f"unique_gain.{net}"]
        assert low <= high and -9 <= low and high <= 9  # 9 shape and texture concepts
    record = json.loads((folder / "claims.json").read_text())
    assert record["mode"] == "quick" and len(record["claims"]) == len(BAU2017.claims)
    summary = outcome.summary
    assert set(summary["model"]) == {"mobilenet_v2", "mobilenet_v2-random", "scenecnn",
                                     "scenecnn-random"}
    assert summary.query("model == 'mobilenet_v2'")["units"].tolist() == [24, 64, 160]
    for name in ("mobilenet_v2", "scenecnn"):
        counted = summary.query("model == @name")[list(CATEGORIES)].to_numpy().sum()
        assert counted == outcome.figures[f"detectors.{name}"]
        assert (folder / f"detectors_{name}.png").exists()
    assert "![detectors_mobilenet_v2](detectors_mobilenet_v2.png)" in (
        folder / "report.md").read_text()
    assert len(list((folder / "site" / "unit" / "img").glob("mobilenet_v2_*.png"))) == 3


def test_every_claim_fails_on_the_untrained_control(tmp_path):
    table, folder, _ = run_study(BAU2017, quick=True, out=tmp_path, progress=False,
                                 control="untrained")
    assert folder.name == "bau2017.control-untrained"
    claims = table[table["kind"] == "claim"]
    assert claims[claims["verdict"] == "held"]["id"].tolist() == []
