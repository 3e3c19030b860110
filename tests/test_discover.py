"""Discovery on a planted model: generated hypotheses, FDR control and power; the command."""
import os
import subprocess
import sys

import numpy as np
import pytest
from hyplib_zoo.stdlib import python_stdlib

from hyplib.discovery import discover
from hyplib.errors import HyplibError, HyplibWarning
from hyplib.testing import SparsePlantedModel, random_texts

PLANTED = dict(zip(range(0, 1000, 50), "abcdefghijKLMNOP0123"))  # 20 of 1,000 units


def _run(seed: int, fdr: float = 0.05, **kw):
    model = SparsePlantedModel(1000, PLANTED, strength=3.0, seed=seed)
    data = random_texts(200, 60)  # the same hypotheses (annotated once); fresh noise per seed
    # batches of 4 records: p-values robust to dependence within records need many batches
    return discover(model, data, ["chars", "charclass", "ngrams", "regex", "tokens"],
                    fdr=fdr, cap=400, min_count=3, batch_size=4, seed=seed, progress=False,
                    **kw)


def test_false_discovery_rate_is_controlled_and_every_planted_unit_is_found():
    fdp = []
    for seed in range(5):
        result = _run(seed)
        assert 450 <= sum(result.meta["generated"].values()) <= 550
        assert result.meta["tests"] == len(result.table.dropna(subset=["p"]))
        found = result.discoveries(0.05)
        false = ~found["unit"].isin(list(PLANTED))
        fdp.append(false.mean() if len(found) else 0.0)
        hits = set(zip(found["unit"], found["hypothesis"]))
        assert all((u, f"auto.char.{c}") in hits for u, c in PLANTED.items()), seed
        assert result.meta["discoveries"] == len(found)
    fdp = np.array(fdp)
    print("false discovery proportions:", fdp.round(4))
    # BH holds E[FDP] <= 0.05 (times the share of true nulls); allow the mean's sampling error
    assert fdp.mean() <= 0.05 + 2 * fdp.std(ddof=1) / np.sqrt(len(fdp)), fdp
    assert fdp.max() < 0.2


def test_an_effect_size_floor_keeps_the_planted_units_only():
    result, floor = _run(0), _run(0, min_effect=0.1)  # planted: r = 0.31-0.37
    plain, by_effect = result.discoveries(0.05), result.discoveries(0.05, order="effect")
    assert len(by_effect) == len(plain) and by_effect["score"].abs().is_monotonic_decreasing
    with pytest.raises(HyplibError, match="order must be 'p' or 'effect'"):
        result.discoveries(0.05, order="q")
    found = floor.discoveries(0.05)
    assert floor.meta["min_effect"] == 0.1 and floor.meta["discoveries"] == len(found)
    assert set(found["unit"]) == set(PLANTED) and (found["score"].abs() > 0.1).all()
    hits = set(zip(found["unit"], found["hypothesis"]))
    assert all((u, f"auto.char.{c}") in hits for u, c in PLANTED.items())
    assert len(found) < len(plain)
    with pytest.raises(HyplibError, match="min_effect needs an inspector that takes it"):
        discover(SparsePlantedModel(4, {}), random_texts(20, 30), ["chars"], ["auc"],
                 min_effect=0.1, progress=False)


def test_discover_command_on_the_tiny_char_lstm(tmp_path):
    python_stdlib(max_files=6).to_json(tmp_path / "source.jsonl")
    run = subprocess.run([sys.executable, "-m", "hyplib.cli", "discover", "--model",
                          "charlm-tiny", "--data", str(tmp_path / "source.jsonl"),
                          "--generators", "tokens", "regex", "--cap", "20", "--quiet",
                          "--batch-size", "1"],  # robust p-values need several batches
                         capture_output=True, text=True,
                         env={**os.environ, "HYPLIB_PLUGINS": "zoo,generators"})
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[1].startswith("generated ") and "tokens 20, regex " in lines[1]
    n_found, n_tests = (int(w) for w in lines[2].split()[:4:3])
    assert lines[2].endswith("hypotheses") and 0 < n_found <= n_tests
    assert lines[3].split() == ["hypothesis", "inspector", "metric", "unit_name", "score",
                                "ci_low", "ci_high", "p", "q"]
    q = [row.split()[-1] for row in lines[4:]]
    assert q and all(v == "<1e-307" or float(v) <= 0.05 for v in q)


class _NoSpaces(SparsePlantedModel):
    """A model with no position on spaces, as a word model has."""

    def encode(self, texts):
        enc = super().encode(texts)
        for i, t in enumerate(texts):
            enc.spans[i, [j for j, c in enumerate(t) if c == " "]] = -1
        return enc


def test_char_level_hypotheses_are_left_out_for_a_model_that_skips_characters():
    data = random_texts(20, 30)
    both = dict(generators=["chars"], cap=5, min_count=1, progress=False)
    with pytest.warns(HyplibWarning, match="the pass read 1 batch.* lower the batch size"):
        assert discover(SparsePlantedModel(4, {}), data, **both).meta["skipped"] == 0
    with pytest.raises(HyplibError, match="made no hypothesis the models take"):
        discover(_NoSpaces(4, {}), data, **both)


def test_no_generator_for_the_data():
    data = random_texts(5, 10)
    with pytest.raises(HyplibError, match=r"generator 'feats' reads the field\(s\) \['feats', "
                                          r"'word_spans'\], which the data lack"):
        discover(SparsePlantedModel(4, {}), data, ["feats"], progress=False)
