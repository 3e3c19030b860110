"""Fixtures: hypotheses and records for the planted model of :mod:`hyplib.testing`; wheels of
throwaway packs."""
import json
import subprocess
import sys
import textwrap

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


def planted_records():
    """150 random strings of letters, digits and punctuation (seeded)."""
    import datasets

    rng = np.random.default_rng(1)
    alphabet = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.()"))
    texts = ["".join(rng.choice(alphabet, size=rng.integers(5, 120))) for _ in range(150)]
    return datasets.Dataset.from_dict({"text": texts})


PACK = '''
import hyplib

@hyplib.hypothesis("{name}.x")
def x(text):
    return [c == "x" for c in text]

@hyplib.hookimpl
def hyplib_hypotheses():
    return [x]
'''


@pytest.fixture(scope="session")
def pack_wheel():
    """``build(root, name, version, deps=(), marker="")``: the wheel, built into ``root/dist``, of
    a pack ``name`` whose one hypothesis ``name.x`` marks the letter x (``marker`` varies its
    bytes)."""
    def build(root, name, version="0.0.1", deps=(), marker=""):
        src = root / f"{name}-{version}-{marker}"
        (src / name).mkdir(parents=True)
        (src / name / "__init__.py").write_text(PACK.format(name=name) + f"# {marker}\n")
        (src / "pyproject.toml").write_text(textwrap.dedent(f'''
            [build-system]
            requires = ["setuptools>=61"]
            build-backend = "setuptools.build_meta"
            [project]
            name = "{name}"
            version = "{version}"
            dependencies = {json.dumps(list(deps))}
            [project.entry-points.hyplib]
            {name} = "{name}"
        '''))
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                        "--no-build-isolation", "-w", str(root / "dist"), str(src)],
                       check=True, capture_output=True)
        return next((root / "dist").glob(f"{name}-{version}-*.whl"))
    return build


@pytest.fixture
def records():
    return planted_records()
