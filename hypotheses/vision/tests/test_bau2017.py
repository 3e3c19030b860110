"""Study bau2017 at its quick size: it runs, judges every claim and writes its report."""
import json

from hyplib_vision.studies import BAU2017, CATEGORIES

from hyplib.study import run_study


def test_quick_run_writes_a_report(tmp_path):
    table, folder, outcome = run_study(BAU2017, quick=True, out=tmp_path, progress=False)
    assert set(table["verdict"]) <= {"held", "not held"}  # every claim measured
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
