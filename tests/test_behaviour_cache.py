"""The behaviour cache: a second query reads behaviours from disk, with the same numbers."""
import numpy as np
import pytest

from hyplib.engine import inspect

from .conftest import char_kind, digit, upper


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPLIB_CACHE", str(tmp_path))
    return tmp_path / "behaviours"


def test_second_query_skips_the_model(planted, records, cache):
    first = inspect(planted, records, [digit], behaviour_cache=True, progress=False)
    files = sorted(p.name for p in cache.iterdir())
    assert len(files) == 2 and files[0].startswith("features-char-") and files[0].endswith(".npy")
    assert files[1] == files[0] + ".sum"  # its checksum sidecar

    def broken(*_a, **_k):
        raise AssertionError("the model ran although its behaviours are cached")

    planted.module.forward = broken
    again = inspect(planted, records, [digit, upper, char_kind], behaviour_cache=True,
                    progress=False)
    same = again.table[again.table["hypothesis"] == "test.digit"]
    np.testing.assert_allclose(same["score"].to_numpy(), first.table["score"].to_numpy(),
                               atol=1e-6)


def test_partial_or_failed_passes_write_nothing(planted, records, cache):
    inspect(planted, records, [digit], behaviour_cache=True, max_records=50, progress=False)
    assert not cache.exists() or list(cache.iterdir()) == []

    calls = []

    def fail_on_fifth_batch(_mod, _inp, out):
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("interrupted")

    planted.module.features.register_forward_hook(fail_on_fifth_batch)
    with pytest.raises(RuntimeError, match="interrupted"):
        inspect(planted, records, [digit], behaviour_cache=True, batch_size=8, progress=False)
    assert list(cache.iterdir()) == []  # the partial file was removed


def test_weights_are_part_of_the_key(planted, records, cache):
    inspect(planted, records, [digit], behaviour_cache=True, progress=False)
    planted.module.tag = "other"  # not a tensor: same key
    planted.module.register_buffer("bias", __import__("torch").ones(1))
    inspect(planted, records, [digit], behaviour_cache=True, progress=False)
    assert len(list(cache.glob("*.npy"))) == 2


def test_a_selected_subset_has_its_own_offsets(planted, records, cache):
    """``data.select`` keeps the parent table underneath: offsets must follow the selection."""
    subset = records.shuffle(seed=3).select(range(0, len(records), 3))
    first = inspect(planted, subset, [digit], behaviour_cache=True, progress=False)
    planted.module.forward = None  # any call would fail: the cache must serve the subset
    again = inspect(planted, subset, [digit], behaviour_cache=True, progress=False)
    np.testing.assert_allclose(again.table["score"].to_numpy(), first.table["score"].to_numpy(),
                               atol=1e-6)


def test_fingerprint_reads_zero_dimensional_buffers():
    from torch import nn

    from hyplib.behaviour_cache import model_fingerprint

    norm = nn.BatchNorm1d(3)  # num_batches_tracked: a 0-d long tensor
    before = model_fingerprint(norm)
    norm.num_batches_tracked += 1
    assert model_fingerprint(norm) != before


def test_edited_model_code_changes_the_key(tmp_path, monkeypatch):
    """The same weights under edited forward code never share cached behaviours; the same
    code, reloaded, does."""
    import importlib

    import torch

    from hyplib.behaviour_cache import behaviour_key, model_fingerprint
    from hyplib.testing import PlantedModel

    source = tmp_path / "edited_net.py"
    monkeypatch.syspath_prepend(str(tmp_path))

    def load(body: str) -> torch.nn.Module:
        source.write_text("from torch import nn\n\n\nclass Net(nn.Linear):\n"
                          f"    def forward(self, x):\n        return {body}\n")
        importlib.invalidate_caches()
        module = importlib.reload(importlib.import_module("edited_net"))
        torch.manual_seed(0)
        return module.Net(3, 2)

    first = model_fingerprint(load("super().forward(x)"))
    assert model_fingerprint(load("super().forward(x)")) == first
    assert model_fingerprint(load("super().forward(x) * 2")) != first
    model = PlantedModel()
    key = behaviour_key(model)
    assert key.startswith(model_fingerprint(model.module)) and behaviour_key(model) == key
