"""Fixtures of the fault suite: a private cache, small records, and the CLI run as a user
would (throwaway packs come from :func:`hyplib.testing.install_packs`)."""
import os
import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pytest


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private, empty hyplib cache."""
    root = tmp_path / "cache"
    monkeypatch.setenv("HYPLIB_CACHE", str(root))
    return root


@pytest.fixture
def texts():
    rng = np.random.default_rng(7)
    alphabet = np.array(list("abcXYZ019 .,"))
    return datasets.Dataset.from_dict(
        {"text": ["".join(rng.choice(alphabet, size=rng.integers(3, 60))) for _ in range(80)]})


def hyplib_cli(*args, site: Path | None = None, plugins: str | None = None, cache=None,
               timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``hyplib ARGS`` as a user would, with the packs in ``site`` on the path."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("HYPLIB_PLUGINS", None)
    if site is not None:
        env["PYTHONPATH"] = str(site)
    if plugins is not None:
        env["HYPLIB_PLUGINS"] = plugins
    if cache is not None:
        env["HYPLIB_CACHE"] = str(cache)
    return subprocess.run([sys.executable, "-m", "hyplib.cli", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout)
