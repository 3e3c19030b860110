"""The engine: planted truth, batching and padding invariance, result tables."""
import numpy as np
import pandas as pd
import pytest

from hyplib.engine import inspect
from hyplib.errors import HyplibError
from hyplib.results import Result
from hyplib.testing import DIGIT_UNIT, N_UNITS, UPPER_UNIT, PlantedModel, random_texts

from .conftest import char_kind, digit, upper


def test_planted_units_rank_first(planted, records):
    result = inspect(planted, records, [digit, upper, char_kind], progress=False)
    top = result.top(1)
    best = dict(zip(top["hypothesis"] + top["label"], top["unit"]))
    assert best == {"test.digit": DIGIT_UNIT, "test.upper": UPPER_UNIT,
                    "test.kinddigit": DIGIT_UNIT, "test.kindupper": UPPER_UNIT,
                    "test.kindother": best["test.kindother"]}
    r = top.set_index("hypothesis").loc["test.digit"]
    assert 0.3 < r["score"] < 0.95 and r["ci_low"] < r["score"] < r["ci_high"]
    assert r["n"] == sum(len(t) for t in records["text"])
    # the noise units are far weaker (the upper-case unit is anti-correlated by construction)
    others = result.table.query("hypothesis == 'test.digit' and unit not in [@DIGIT_UNIT, @UPPER_UNIT]")
    assert others["score"].abs().max() < 0.1


def test_batched_equals_unbatched_and_padding_changes_nothing(planted, records):
    one = inspect(planted, records, [digit, char_kind], batch_size=1, progress=False).table
    many = inspect(planted, records, [digit, char_kind], batch_size=37, progress=False).table
    assert len(one) == N_UNITS * 4
    np.testing.assert_allclose(one["score"], many["score"], atol=1e-6)
    # p and q treat each batch of records as one sample (hyplib.significance): they depend on
    # the batching
    pd.testing.assert_frame_equal(one.drop(columns=["score", "ci_low", "ci_high", "p", "q"]),
                                  many.drop(columns=["score", "ci_low", "ci_high", "p", "q"]))


def test_scores_equal_numpy_on_all_symbols(planted, records):
    result = inspect(planted, records, [digit, upper], progress=False)
    texts = list(records["text"])
    enc = planted.encode(texts)
    x = planted.module(**enc.inputs).numpy()[enc.spans[..., 0] >= 0]
    y = np.array([[c.isdigit(), c.isupper()] for t in texts for c in t], dtype=float)
    want = np.corrcoef(x.T, y.T)[:N_UNITS, N_UNITS:]
    got = result.table.pivot(index="unit", columns="hypothesis", values="score").to_numpy()
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_seeded_sample_and_metadata(planted, records):
    a = inspect(planted, records, [digit], max_records=40, seed=3, progress=False)
    b = inspect(planted, records, [digit], max_records=40, seed=3, progress=False)
    c = inspect(planted, records, [digit], max_records=40, seed=4, progress=False)
    assert a.meta["records"] == 40 and a.meta["stopped"] == "sample limit"
    assert a.table["score"].equals(b.table["score"])
    assert not a.table["score"].equals(c.table["score"])


def test_two_models_in_one_pass(records):
    a, b = PlantedModel(name="a"), PlantedModel(noise=0.2, name="b")
    result = inspect([a, b], records, [digit], progress=False)
    best = result.top(1, by="abs")
    assert set(result.table["model"]) == {"a", "b"}
    assert best["unit_name"].tolist() == [f"b:features[{DIGIT_UNIT}]"]


def test_result_round_trips(planted, records, tmp_path):
    result = inspect(planted, records, [digit], progress=False)
    for name in ("r.parquet", "r.csv"):
        back = Result.load(result.save(tmp_path / name))
        np.testing.assert_allclose(back.table["score"], result.table["score"], atol=1e-12)
        assert back.meta["records"] == len(records)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "r.csv", "r.csv.json", "r.parquet", "r.parquet.json"]


def test_sample_fraction(planted, records):
    result = inspect(planted, records, [digit], sample=0.1, progress=False)
    assert result.meta["records"] == 15
    with pytest.raises(HyplibError, match=r"sample \(--sample\), a fraction, must be a number > 0 and <= 1, not 2"):
        inspect(planted, records, [digit], sample=2, progress=False)


def test_early_stopping_finds_the_same_top_units_on_a_minority(planted):
    data = random_texts(2000, 80)
    full = inspect(planted, data, [digit, upper], batch_size=16, progress=False)
    early = inspect(planted, data, [digit, upper], batch_size=16, tolerance=0.02, top_k=2,
                    progress=False)
    assert early.meta["stopped"] == "converged: tolerance 0.02 on the top 2 units"
    assert early.meta["records"] < 0.5 * len(data)
    for a, b in zip(full.top(2).itertuples(), early.top(2).itertuples()):
        assert (a.hypothesis, a.unit) == (b.hypothesis, b.unit)
        assert abs(a.score - b.score) < 0.03
    loose = inspect(planted, data, [digit, upper], batch_size=16, tolerance=0.05, progress=False)
    assert loose.meta["records"] < early.meta["records"]
    assert (loose.table.eval("(ci_high - ci_low) / 2") <= 0.05).all()


def test_reduced_precision_gives_the_same_scores(planted, records):
    full = inspect(planted, records, [digit, upper], progress=False).table
    half = inspect(planted, records, [digit, upper], precision="bfloat16", progress=False).table
    np.testing.assert_allclose(half["score"], full["score"], atol=0.02)
    assert half["n"].equals(full["n"])
    with pytest.raises(HyplibError, match="precision must be one of 'float32', 'tf32', 'bfloat16', 'float16', not 'int8'"):
        inspect(planted, records, [digit], precision="int8", progress=False)


def test_inspector_args_reach_the_inspector(planted, records):
    narrow = inspect(planted, records, [digit], inspector_args={"correlation": {"confidence": 0.5}},
                     progress=False).table
    wide = inspect(planted, records, [digit], progress=False).table
    assert ((narrow["ci_high"] - narrow["ci_low"]) < (wide["ci_high"] - wide["ci_low"])).all()
    with pytest.raises(HyplibError, match=r"inspector_args names 'probe', which is not among"):
        inspect(planted, records, [digit], inspector_args={"probe": {"k": 2}}, progress=False)


def test_deferred_finiteness_check_names_the_unit_and_record():
    """On CUDA the engine queues the finiteness tests and reads them once per batch."""
    import torch

    from hyplib.engine import _FiniteCheck
    from hyplib.errors import BehaviourError

    check = _FiniteCheck(defer=True)
    x = torch.zeros(6, 3)
    check(x, "m", "layer", np.array([2, 4]), np.array([10, 11]))
    check.flush()
    x[4, 2] = float("nan")
    check(x.clone(), "m", "layer", np.array([2, 4]), np.array([10, 11]))
    assert check.pending  # nothing read yet
    with pytest.raises(BehaviourError, match=r"m:layer\[2\] is nan on record 11"):
        check.flush()


@pytest.mark.parametrize("defer", [False, True])
def test_finite_values_whose_sum_overflows_pass_and_an_infinity_does_not(defer):
    """The test reads a sum first: finite values that overflow it get the full test and pass."""
    import torch

    from hyplib.engine import _FiniteCheck
    from hyplib.errors import BehaviourError

    check = _FiniteCheck(defer=defer)
    x = torch.full((6, 3), 3e38)
    assert not torch.isfinite(x.sum())
    check(x, "m", "layer", np.array([2, 4]), np.array([10, 11]))
    check.flush()
    x[1, 0] = -float("inf")
    with pytest.raises(BehaviourError, match=r"m:layer\[0\] is -inf on record 10"):
        check(x, "m", "layer", np.array([2, 4]), np.array([10, 11]))
        check.flush()


def test_discrete_labels_are_held_as_bytes_and_read_as_floats(records, tmp_path, monkeypatch):
    import torch

    import hyplib
    from hyplib.annotation import annotate, label_matrix

    monkeypatch.setenv("HYPLIB_CACHE", str(tmp_path))
    half = hyplib.Hypothesis("test.half", lambda b: [[0.5] * len(t) for t in b["text"]],
                             kind="continuous")
    place = hyplib.Hypothesis("test.place", lambda b: [np.arange(len(t)) % 7 for t in b["text"]],
                              kind="continuous")
    wide = hyplib.Hypothesis("test.wide", lambda b: [np.arange(len(t)) * 10 - 5
                                                     for t in b["text"]], kind="continuous")
    names = ("test.digit", "test.kind", "test.half", "test.place", "test.wide")
    labels = annotate(records, [digit, char_kind, half, place, wide], progress=False)
    assert labels["test.digit"].values.dtype == labels["test.kind"].values.dtype == np.uint8
    assert labels["test.place"].values.dtype == np.uint8  # continuous, but small whole numbers
    assert labels["test.half"].values.dtype == np.float32  # not a whole number: kept as is
    assert labels["test.wide"].values.dtype == np.float32  # whole, but outside 0..255
    ids = np.array([3, 0])
    y = label_matrix([labels[h] for h in names], ids)
    text = records[3]["text"] + records[0]["text"]
    kind = [0 if c.isdigit() else 1 if c.isupper() else 2 for c in text]
    at = np.concatenate([np.arange(len(records[3]["text"])), np.arange(len(records[0]["text"]))])
    want = np.column_stack([[c.isdigit() for c in text], np.eye(3)[kind], np.full(len(text), 0.5),
                            at % 7, at * 10 - 5])
    assert y.dtype == torch.float32
    np.testing.assert_array_equal(y.numpy(), want)
    from hyplib.annotation import LabelTable
    from hyplib.errors import AnnotationError

    whole = hyplib.Hypothesis("test.long", lambda b: [len(t) > 50 for t in b["text"]],
                              level="record")
    labels |= annotate(records, [whole], progress=False)
    with pytest.raises(AnnotationError, match="'test.digit' and 'test.long' label different "
                                              "symbols"):
        LabelTable([labels["test.digit"], labels["test.long"]])


@pytest.fixture
def cores(monkeypatch):
    """Set how many cores the engine sees (torch runs on 1 thread): more than 1 counts the
    inspectors' updates on a second thread (hyplib.engine._Updates)."""
    import os

    import torch

    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)

    def use(n: int):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(n)), raising=False)
    return use


def test_updates_on_a_second_thread_give_the_same_result(planted, records, cores):
    import threading

    from hyplib.inspectors import Correlation

    class Where(Correlation):  # correlation, noting the thread each update runs in
        name = "where"
        threads: set = set()

        def update(self, x, y):
            Where.threads.add(threading.current_thread().name)
            super().update(x, y)

    kw = dict(inspectors=["correlation", "mutual_info", "probe", Where], batch_size=16,
              progress=False)
    cores(1)
    inline = inspect(planted, records, [digit, char_kind], **kw)
    assert Where.threads == {threading.current_thread().name}
    cores(2)
    Where.threads = set()
    beside = inspect(planted, records, [digit, char_kind], **kw)
    assert {t.split("_")[0] for t in Where.threads} == {"hyplib-updates"}
    pd.testing.assert_frame_equal(inline.table, beside.table)
    stopped = inspect(planted, records, [digit], tolerance=0.2, batch_size=4, progress=False)
    assert stopped.meta["records"] < len(records)


def test_an_update_that_fails_on_the_second_thread_raises(planted, records, cores):
    from hyplib.inspectors import Correlation

    class Broken(Correlation):
        name = "broken"
        calls = 0

        def update(self, x, y):
            Broken.calls += 1
            if Broken.calls == 3:
                raise RuntimeError("inspector broke on its third batch")
            super().update(x, y)

    cores(2)
    with pytest.raises(RuntimeError, match="third batch"):
        inspect(planted, records, [digit], [Broken], batch_size=8, progress=False)
