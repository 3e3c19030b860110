"""Cache files are checked when read: a damaged one is named, moved aside and recomputed."""
import json
import shutil

import numpy as np
import pytest
import torch

import hyplib
from hyplib.annotation import annotate
from hyplib.checkpoints import checkpoint
from hyplib.engine import inspect
from hyplib.errors import BehaviourError, HyplibWarning
from hyplib.integrity import seal
from hyplib.testing import PlantedModel

from ..conftest import digit, upper


@hyplib.hypothesis("fault.vowel")
def vowel(text):
    return [c in "aeiouXYZ" for c in text]


def _flip(path, at=None):
    data = bytearray(path.read_bytes())
    at = len(data) - 7 if at is None else at
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def _annotation_file(cache, name):
    files = [p for p in (cache / "annotations").rglob(f"{name}-*.arrow")]
    assert len(files) == 1
    return files[0]


@pytest.mark.parametrize("damage", ["flip", "truncate", "no sidecar", "swap"])
def test_damaged_annotation_is_recomputed_with_a_warning(cache, texts, damage):
    want = annotate(texts, [vowel, digit], progress=False)["fault.vowel"].values.copy()
    path = _annotation_file(cache, "fault.vowel")
    if damage == "flip":
        _flip(path)
    elif damage == "truncate":
        path.write_bytes(path.read_bytes()[:-100])
    elif damage == "no sidecar":
        path.with_name(path.name + ".sum").unlink()
    else:  # another hypothesis' file and sidecar copied over this one's
        other = _annotation_file(cache, "test.digit")
        shutil.copy(other, path)
        shutil.copy(other.with_name(other.name + ".sum"), path.with_name(path.name + ".sum"))
    with pytest.warns(HyplibWarning, match=f"cache file {path} is damaged"):
        got = annotate(texts, [vowel], progress=False)["fault.vowel"].values
    np.testing.assert_array_equal(got, want)
    aside = [p for p in path.parent.glob(f"{path.name}.bad-*") if p.suffix != ".sum"]
    assert len(aside) == 1  # kept aside, never used
    annotate(texts, [vowel], progress=False)  # sealed again: no warning now


def _scores(result):
    return result.table.sort_values(["hypothesis", "unit"])["score"].to_numpy()


@pytest.fixture
def filled(cache, records):
    planted = PlantedModel()
    fresh = inspect(planted, records, [digit, upper], behaviour_cache=True, progress=False)
    [path] = (cache / "behaviours").glob("*.npy")
    return planted, fresh, path


@pytest.mark.parametrize("damage", ["flip", "drop units", "truncate"])
def test_damaged_behaviour_file_is_recomputed(filled, records, damage):
    planted, fresh, path = filled
    if damage == "flip":
        _flip(path)
    elif damage == "drop units":  # a well-formed .npy, 8 of 12 units, no matching checksum
        np.save(path, np.load(path)[:, :8])
    else:
        path.write_bytes(path.read_bytes()[:1000])
    with pytest.warns(HyplibWarning, match="is damaged"):
        again = inspect(planted, records, [digit, upper], behaviour_cache=True, progress=False)
    np.testing.assert_allclose(_scores(again), _scores(fresh), atol=1e-6)
    assert len(again.table) == len(fresh.table)


def test_cached_behaviours_go_through_the_finiteness_check(filled, records):
    planted, _, path = filled
    values = np.load(path, mmap_mode="r+")
    values[5, 3] = np.nan
    values.flush()
    del values
    seal(path, json.loads(path.with_name(path.name + ".sum").read_text())["schema"], path)
    with pytest.raises(BehaviourError, match=r"unit planted:features\[3\] is nan"):
        inspect(planted, records, [digit], behaviour_cache=True, progress=False)


def test_damaged_checkpoint_is_retrained(cache):
    calls = []

    def train():
        calls.append(1)
        return {"state_dict": {"w": torch.arange(1000.0)}}

    saved, path = checkpoint("fault-model", {"v": 1}, train)
    assert checkpoint("fault-model", {"v": 1}, train)[0]["state_dict"]["w"].sum() == 499500
    assert len(calls) == 1
    _flip(path, at=len(path.read_bytes()) // 2)
    with pytest.warns(HyplibWarning, match="fault-model-.*is damaged"):
        again, _ = checkpoint("fault-model", {"v": 1}, train)
    assert len(calls) == 2 and torch.equal(again["state_dict"]["w"], torch.arange(1000.0))
    other = checkpoint("fault-other", {"v": 1}, train)[1]
    shutil.copy(other, path)  # a swapped file fails its checksum
    shutil.copy(other.with_name(other.name + ".sum"), path.with_name(path.name + ".sum"))
    with pytest.warns(HyplibWarning, match="holds"):
        checkpoint("fault-model", {"v": 1}, train)
    assert len(calls) == 4
