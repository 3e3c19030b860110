"""MI's bins follow a pass-independent rule (edges from a calibration sample of records that
does not depend on the seed): the seed changes which symbols are counted, never the bins."""
import numpy as np

from hyplib.engine import inspect
from hyplib.testing import PlantedModel

from ..conftest import digit, upper


def _mi(records, seed, **kw):
    t = inspect(PlantedModel(), records, [digit, upper], ["mutual_info"], seed=seed,
                batch_size=16, progress=False, inspector_args={"mutual_info": {"warmup": 500}},
                **kw).table  # 500 of the ~9,000 symbols set the edges
    return t[t.metric == "mi"].sort_values(["hypothesis", "unit"]).reset_index(drop=True)


def test_a_full_pass_gives_the_same_mi_for_every_seed(records):
    a, b = _mi(records, 0), _mi(records, 1)
    np.testing.assert_allclose(a.score, b.score, rtol=0, atol=1e-12)


def test_sampled_passes_differ_only_within_their_intervals(records):
    a, b = _mi(records, 0, max_records=60), _mi(records, 1, max_records=60)
    half = (a.ci_high - a.ci_low) / 2 + (b.ci_high - b.ci_low) / 2
    assert (np.abs(a.score - b.score) <= half).all()
    top = a.loc[a.groupby("hypothesis").score.idxmax(), "unit"].tolist()
    assert top == b.loc[b.groupby("hypothesis").score.idxmax(), "unit"].tolist() == [3, 7]


def test_a_cached_rerun_with_mi_skips_the_model(records, cache):
    planted = PlantedModel()
    first = inspect(planted, records, [digit], ["mutual_info"], behaviour_cache=True,
                    progress=False)

    def broken(*_a, **_k):
        raise AssertionError("the model ran although its behaviours are cached")

    planted.module.forward = broken
    again = inspect(planted, records, [digit], ["mutual_info"], behaviour_cache=True,
                    progress=False)
    np.testing.assert_allclose(again.table.score, first.table.score, atol=1e-12)
