"""Dissection end to end: the scene CNN recipe, the report's tables and figures, the CLI."""
import numpy as np
import pandas as pd
import pytest
from hyplib_vision import cnn, colour, dissect, scenes

from hyplib import Result, inspect
from hyplib.cli import main


@pytest.fixture(scope="module")
def tiny():
    return cnn.load(cnn.TINY, name="scenecnn-tiny", progress=False)


def test_scene_cnn_is_deterministic_and_cached(tiny):
    again = cnn.load(cnn.TINY, name="scenecnn-tiny", progress=False)
    for a, b in zip(tiny.module.state_dict().values(), again.module.state_dict().values()):
        assert np.array_equal(a.numpy(), b.numpy())
    assert set(tiny.record) >= {"scene_accuracy", "shape_accuracy", "train_seconds"}
    assert tiny.default_layers == ("features.0", "features.1", "features.2", "features.3")
    untrained = cnn.load(cnn.TINY, trained=False)
    assert not np.array_equal(untrained.module.features[0][0].weight.detach().numpy(),
                              tiny.module.features[0][0].weight.detach().numpy())


def test_unit_concepts_and_detector_counts():
    rows = [("m", layer, unit, h, label, "iou", "iou", score)
            for layer, unit, h, label, score in [
                ("features.10", 0, "vision.colour", "red", 0.09),
                ("features.10", 0, "vision.scenes.shape", "circle", 0.05),
                ("features.10", 1, "vision.scenes.shape", "none", 0.5),   # not a concept
                ("features.10", 1, "vision.scenes.texture", "dots", 0.03),
                ("features.2", 0, "vision.scenes.shape", "square", 0.06),
                ("features.2", 0, "vision.scenes.scene", "sea", 0.9)]]   # record level
    table = pd.DataFrame(rows, columns=["model", "layer", "unit", "hypothesis", "label",
                                        "inspector", "metric", "score"])
    table["unit_name"] = table["model"] + ":" + table["layer"] + "[" + table["unit"].astype(str) + "]"
    concepts = dissect.unit_concepts(Result(table), colour.HYPOTHESES + scenes.HYPOTHESES)
    assert concepts[["layer", "unit", "category", "concept", "detector"]].values.tolist() == [
        ["features.10", 0, "colour", "red", True], ["features.10", 1, "texture", "dots", False],
        ["features.2", 0, "shape", "square", True]]
    counts = dissect.detector_counts(concepts, ["colour", "shape", "texture"])
    assert counts.index.tolist() == ["features.2", "features.10"]
    assert counts.values.tolist() == [[0, 1, 0], [1, 0, 0]]


def test_report_writes_tables_and_figures(tiny, tmp_path):
    data = scenes.scenes(16, size=32, seed=4)
    hyps = colour.HYPOTHESES + scenes.HYPOTHESES
    result = inspect(tiny, data, hyps, ["iou"], layers=["features.0", "features.2"],
                     progress=False, inspector_args={"iou": {"quantile": 0.9}})
    concepts, files = dissect.report(result, hyps, tiny, data, tmp_path, units=1, k=3)
    assert len(concepts) == 4 + 16  # every unit of both layers
    assert {f.name for f in files} >= {"unit_concepts.csv", "detector_counts.csv",
                                       "detector_counts.png"}
    overlays = [f for f in files if f.name.startswith("features.")]
    assert len(overlays) == 2 and all(f.stat().st_size > 5000 for f in overlays)
    top, thresholds = dissect.top_images(tiny, data, "features.2", k=3)
    assert top.shape == (16, 3) and thresholds.shape == (16,)
    images, masks = dissect.unit_masks(tiny, data, "features.2", 0, top[0], float(thresholds[0]))
    assert images[0].shape == (32, 32, 3) and masks[0].shape == (32, 32)
    assert np.mean([m.mean() for m in masks]) > 0  # its top images are where it fires


def test_cli_dissects_a_model_against_the_vision_pack(tiny, tmp_path, capsys):
    scenes.scenes(10, size=32, seed=5).save_to_disk(str(tmp_path / "scenes"))
    code = main(["inspect", "--model", "scenecnn-tiny", "--data", str(tmp_path / "scenes"),
                 "--hypotheses", "vision.*", "--inspectors", "iou", "--layers", "features.1",
                 "features.3", "--quiet", "--top", "1", "--out", str(tmp_path / "r.csv")])
    assert code == 0
    out = capsys.readouterr().out
    assert "scenecnn-tiny on" in out and "10 of 10 records" in out
    table = Result.load(tmp_path / "r.csv").table
    assert set(table["layer"]) == {"features.1", "features.3"}
    assert {"vision.colour", "vision.scenes.shape", "vision.scenes.texture",
            "vision.scenes.scene"} == set(table["hypothesis"])
