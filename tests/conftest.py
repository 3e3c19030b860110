"""Fixtures: hypotheses and records for the planted model of :mod:`hyplib.testing`."""
import numpy as np
import pytest

import hyplib
from hyplib.testing import PlantedModel


@hyplib.hypothesis("test.digit")
def digit(text):
    return [c.isdigit() for c in text]


@hyplib.hypothesis("test.upper")
def upper(text):
    return [c.isupper() for c in text]


@hyplib.hypothesis("test.kind", kind="categorical", classes=("digit", "upper", "other"))
def char_kind(text):
    return ["digit" if c.isdigit() else "upper" if c.isupper() else "other" for c in text]


@pytest.fixture
def planted():
    return PlantedModel()


@pytest.fixture
def records():
    import datasets

    rng = np.random.default_rng(1)
    alphabet = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.()"))
    texts = ["".join(rng.choice(alphabet, size=rng.integers(5, 120))) for _ in range(150)]
    return datasets.Dataset.from_dict({"text": texts})
