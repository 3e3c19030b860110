"""Bad input: every error names the thing at fault and the fix."""
import datasets
import pytest
import torch

import hyplib
from hyplib.engine import inspect
from hyplib.errors import AnnotationError, BehaviourError, HyplibError, LayerError, UnknownNameError
from hyplib.results import Result
from hyplib.testing import PlantedModel

from .conftest import digit


def test_wrong_layer_lists_valid_ones(planted, records):
    with pytest.raises(LayerError, match=r"model 'planted' has no layer 'feature'; did you mean "
                                         r"'features'\? valid layers \(dotted module names\): features"):
        inspect(planted, records, [digit], layers=["feature"], progress=False)


def test_hypothesis_of_wrong_length_names_the_record(planted, records):
    @hyplib.hypothesis("test.short")
    def short(text):
        return [0] * (len(text) - (text == records[17]["text"]))

    with pytest.raises(AnnotationError, match=r"'test.short' gave \d+ labels for record 17, "
                                              r"which has \d+ char symbols"):
        inspect(planted, records, [short], progress=False)


def test_unknown_class_and_non_finite_labels(planted, records):
    @hyplib.hypothesis("test.cls", kind="categorical", classes=("a", "b"))
    def cls(text):
        return ["a"] * len(text) if len(text) < 100 else ["c"] * len(text)

    with pytest.raises(AnnotationError, match=r"returned class 'c', not one of its classes "
                                              r"\['a', 'b'\] \(record \d+\)"):
        inspect(planted, records, [cls], progress=False)

    @hyplib.hypothesis("test.nan", kind="continuous")
    def nan(text):
        return [float("nan")] * len(text)

    with pytest.raises(AnnotationError, match="'test.nan' gave a non-finite label at char 0 of record 0"):
        inspect(planted, records, [nan], progress=False)


def test_nan_activation_names_the_unit(records):
    model = PlantedModel()
    model.module.features = torch.nn.Threshold(0.9, float("nan"))  # NaN where a unit is <= 0.9
    with pytest.raises(BehaviourError, match=r"unit planted:features\[\d+\] is nan on record \d+"):
        inspect(model, records, [digit], progress=False)


def test_empty_data(planted):
    with pytest.raises(HyplibError, match="the data set has no records"):
        inspect(planted, datasets.Dataset.from_dict({"text": []}), [digit], progress=False)


def test_unknown_names_list_close_matches(planted, records):
    with pytest.raises(UnknownNameError, match=r"unknown inspector 'corelation': did you mean 'correlation'\?"):
        inspect(planted, records, [digit], inspectors=["corelation"], progress=False)
    with pytest.raises(UnknownNameError, match=r"unknown hypothesis 'nope\.\*'"):
        inspect(planted, records, ["nope.*"], progress=False)


def test_failed_annotation_leaves_no_cache_file(planted, records, tmp_path, monkeypatch):
    monkeypatch.setenv("HYPLIB_CACHE", str(tmp_path))

    @hyplib.hypothesis("test.crash")
    def crash(text):
        if text == records[140]["text"]:
            raise RuntimeError("boom")
        return [0] * len(text)

    with pytest.raises(AnnotationError, match=r"'test.crash' failed on records 0-149: RuntimeError: boom"):
        inspect(planted, records, [crash], progress=False)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_failed_save_leaves_no_file(tmp_path, monkeypatch):
    import pandas as pd

    def broken(self, path, **kw):
        open(path, "w").write("half")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)
    with pytest.raises(OSError, match="disk full"):
        Result(pd.DataFrame({"score": [1.0]})).save(tmp_path / "r.parquet")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(HyplibError, match=r"use a \.parquet or \.csv name"):
        Result(pd.DataFrame()).save(tmp_path / "r.xlsx")
