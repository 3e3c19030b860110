"""The planner: statements over the same records share one forward pass per model; cached
behaviours skip the model; EXPLAIN says so; merged statements score as separate ones would."""
import math

import numpy as np
import pandas as pd

import hyplib
from hyplib.engine import inspect
from hyplib.intervene import ablate
from hyplib.testing import DIGIT_UNIT, UPPER_UNIT, PlantedModel

from .conftest import char_kind, digit, upper

BATCH = 32


class Counted(PlantedModel):
    """A planted model that counts its forward calls."""

    def __init__(self, name="planted", noise=0.5):
        super().__init__(noise, name)
        self.calls = 0
        self.module.register_forward_hook(lambda *_: setattr(self, "calls", self.calls + 1))


def opts(records, *models, **extra):
    return dict(models={m.name: m for m in models}, data={"recs": records},
                hypotheses=[digit, upper, char_kind], progress=False, device="cpu",
                batch_size=BATCH) | extra


TWO = """LET a = INSPECT planted AGAINST test.digit OVER recs;
         LET b = INSPECT planted AGAINST test.upper, test.kind USING correlation, mutual_info
                 OVER recs ORDER BY |score| DESC"""


def test_two_statements_over_the_same_data_run_the_model_once(records):
    model = Counted()
    results = hyplib.query.run(TWO, **opts(records, model))
    alone = Counted()  # the second statement alone: the same forward calls (its MI's bin
    hyplib.query.run(TWO.split(";")[1], **opts(records, alone))  # calibration included)
    assert model.calls == alone.calls <= 2 * math.ceil(len(records) / BATCH)
    assert results["a"].meta["pass"] == results["b"].meta["pass"] == 1
    # each statement's rows are what it asked for, scored as a separate inspect would
    direct = inspect(PlantedModel(), records, [digit], progress=False, batch_size=BATCH)
    a = results["a"].table
    assert set(a["hypothesis"]) == {"test.digit"} and len(a) == len(direct.table)
    pd.testing.assert_series_equal(a["score"], direct.table["score"], check_names=False)
    b = results["b"].table
    assert set(b["hypothesis"]) == {"test.upper", "test.kind"}
    assert set(b["inspector"]) == {"correlation", "mutual_info"}
    assert b["score"].abs().is_monotonic_decreasing


def test_separate_data_means_separate_passes(records):
    model = Counted()
    results = hyplib.query.run("""LET a = INSPECT planted AGAINST test.digit OVER recs;
                                  LET b = INSPECT planted AGAINST test.digit OVER recs SAMPLE 64""",
                               **opts(records, model))
    assert results["b"].meta["pass"] == 2 and results["b"].meta["records"] == 64
    assert model.calls == math.ceil(len(records) / BATCH) + 2


def test_a_cached_behaviour_skips_the_model_and_explain_says_so(records, tmp_path,
                                                                monkeypatch):
    monkeypatch.setenv("HYPLIB_CACHE", str(tmp_path))  # other tests must not read it
    first = Counted()
    text = "INSPECT planted AGAINST test.digit OVER recs"
    assert "one forward pass" in hyplib.query.explain(text, **opts(records, first))
    written = hyplib.query(text, **opts(records, first, behaviour_cache=True))
    assert first.calls == math.ceil(len(records) / BATCH)
    again = Counted()
    plan = hyplib.query.explain("EXPLAIN " + text, **opts(records, again))
    assert "model planted: layers features: behaviour cache (no forward pass)" in plan
    assert "labels cached: 1/1" in plan
    read = hyplib.query(text, **opts(records, again))
    assert again.calls == 0 and read.meta["models"] == {"planted": "behaviour cache"}
    np.testing.assert_allclose(read.table["score"], written.table["score"], rtol=1e-6)


def test_explain_lists_passes_models_hypotheses_and_inspectors(records):
    plan = hyplib.query.explain(TWO + """;
        LET top = FROM a ORDER BY |score| DESC LIMIT 1;
        EXPLAIN INSPECT planted AGAINST test.upper OVER recs WITH ABLATE UNITS OF top""",
                                **opts(records, Counted()))
    lines = plan.splitlines()
    assert lines[0] == "3 of 4 statements -> 2 passes (2 inspect, 0 evaluate)"
    assert "pass 1 (inspect, stage 0): over recs: 150 of 150 records" in plan
    assert "  statements: a" in plan  # b is not needed by the explained statement
    assert "pass 2 (inspect, stage 1)" in plan and "WITH ABLATE UNITS OF top" in plan
    assert "then top: FROM" in plan


def test_with_ablate_is_the_engine_under_intervene_ablate(records):
    model = Counted()
    got = hyplib.query("""LET top = INSPECT planted AGAINST test.digit OVER recs
                              ORDER BY |score| DESC LIMIT 1;
                          INSPECT planted AGAINST test.digit OVER recs WITH ABLATE UNITS OF top""",
                       **opts(records, model)).table
    reference = PlantedModel()
    with ablate(reference, {"features": [DIGIT_UNIT]}):
        want = inspect(reference, records, [digit], progress=False, batch_size=BATCH).table
    assert np.isnan(got.loc[got["unit"] == DIGIT_UNIT, "score"]).all()
    np.testing.assert_allclose(got["score"], want["score"], rtol=1e-6, equal_nan=True)
    assert not np.isnan(got.loc[got["unit"] == UPPER_UNIT, "score"]).any()


def test_untrained_is_the_model_reinitialised():
    from hyplib_zoo.charlm import TINY, CharLM, CharLSTM

    from hyplib.query.session import untrained

    model = CharLM("charlm", CharLSTM(TINY), ("lstm.0",))
    fresh = untrained(model, seed=3)
    assert fresh.name == "untrained-charlm" and fresh.default_layers == ("lstm.0",)
    for (name, p), q in zip(model.module.named_parameters(), fresh.module.parameters()):
        assert not np.array_equal(p.detach().numpy(), q.detach().numpy()), name
    again = untrained(model, seed=3)
    for p, q in zip(fresh.module.parameters(), again.module.parameters()):
        assert np.array_equal(p.detach().numpy(), q.detach().numpy())


def test_the_command_runs_a_script_file(records, tmp_path, capsys, monkeypatch):
    from hyplib import cli

    path = tmp_path / "analysis.hql"
    records.to_json(tmp_path / "recs.jsonl")
    path.write_text(f"""LET r = INSPECT charlm-tiny:lstm.1 AGAINST grammar.python.in_string
        OVER '{tmp_path / "recs.jsonl"}' SAMPLE 20;
        FROM r ORDER BY |score| DESC LIMIT 2""")
    assert cli.main(["query", "-f", str(path), "--quiet", "--device", "cpu"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("_2: 2 rows") and "charlm-tiny:lstm.1[" in out
    assert "2 statements, 1 passes (1 model forward passes)" in err
    assert cli.main(["query", "INSPECT charlm-tiny AGAINST grammar.python.in_strin OVER x"]) == 2
    assert "did you mean 'grammar.python.in_string'" in capsys.readouterr().err
