"""Early stopping: intervals reported at the stop hold the full-data scores at their confidence,
the looks spend the error rate, and p-values follow."""
import numpy as np
import pytest
from scipy import stats

from hyplib.engine import inspect
from hyplib.errors import HyplibError
from hyplib.significance import look_share, spent_confidence
from hyplib.testing import PlantedModel, random_texts, stopping_coverage

from .conftest import digit, upper


@pytest.fixture(scope="module")
def texts():
    return random_texts(2000, 80)


@pytest.mark.parametrize("top_k", [None, 2])
def test_stop_time_intervals_cover_the_full_data_scores(texts, top_k):
    runs = stopping_coverage(PlantedModel(), texts, [digit, upper], range(50), batch_size=16,
                             tolerance=0.02, top_k=top_k)
    assert runs["stopped"].all() and runs["read"].max() < 0.5
    assert runs["covered"].mean() >= 0.95
    assert runs["max_move"].max() < 2 * 0.02


def test_each_look_spends_a_share_of_the_error_rate(texts):
    early = inspect(PlantedModel(), texts, [digit, upper], batch_size=16, tolerance=0.02,
                    progress=False)
    looks = early.meta["looks"]
    assert looks >= 2 and early.meta["alpha_share"] == look_share(looks)
    t = early.table
    z = stats.norm.isf((1 - spent_confidence(0.95, looks)) / 2)
    half = z / np.sqrt(t["n"] - 3)
    np.testing.assert_allclose(t["ci_low"], np.tanh(np.arctanh(t["score"]) - half), atol=1e-9)
    np.testing.assert_allclose(t["ci_high"], np.tanh(np.arctanh(t["score"]) + half), atol=1e-9)
    same = inspect(PlantedModel(), texts, [digit, upper], batch_size=16,  # the same records
                   max_records=early.meta["records"], progress=False)
    raw = same.table["p"].to_numpy()
    np.testing.assert_allclose(t["p"], np.minimum(raw / look_share(looks), 1), rtol=1e-6)
    assert sum(look_share(j) for j in range(1, 10_000)) == pytest.approx(1, abs=1e-3)


def test_a_full_pass_with_a_tolerance_is_a_look_too(texts):
    small = texts.select(range(100))
    full = inspect(PlantedModel(), small, [digit], batch_size=16, tolerance=1e-4,
                   progress=False)
    plain = inspect(PlantedModel(), small, [digit], batch_size=16, progress=False)
    assert full.meta["stopped"] == "end of data" and full.meta["looks"] >= 1
    assert "looks" not in plain.meta
    assert ((full.table["ci_high"] - full.table["ci_low"])
            > (plain.table["ci_high"] - plain.table["ci_low"])).all()


class _NoConfidence:
    name, rank_by_abs = "no_confidence", False

    def __init__(self, n_units, columns, device):
        self.columns = columns

    @classmethod
    def accepts(cls, hypothesis):
        return True

    def update(self, x, y):
        pass


def test_an_inspector_without_confidence_cannot_stop_early(texts):
    with pytest.raises(HyplibError, match="inspector 'no_confidence' has no 'confidence' "
                                          "attribute, so early stopping cannot keep"):
        inspect(PlantedModel(), texts, [digit], [_NoConfidence], batch_size=16,
                tolerance=0.02, progress=False)
