"""Resuming a sharded pass: after each round the merged states of the finished shards are saved,
keyed by everything the states depend on; a rerun with the same key goes on from there."""
from __future__ import annotations

import hashlib
import inspect
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..behaviour_cache import model_fingerprint
from ..cache import atomic_path, digest


def run_key(run, data, shards: list[np.ndarray], seed: int) -> str:
    """A hash of the pass's inputs and code: data, records and their shards, hypotheses and
    their versions, models' weights, settings and layers, inspectors' arguments and source, the engine's
    settings, and hyplib's own source."""
    order = hashlib.sha256(np.concatenate(shards).astype(np.int64).tobytes()).hexdigest()
    return digest({
        "data": data._fingerprint, "order": order, "shards": [len(s) for s in shards],
        "seed": seed, "hypotheses": {h.name: h.version for h in run.hyps},
        "models": {m.name: [type(m).__qualname__, model_fingerprint(m.module), _settings(m),
                            layers] for m, layers in run.plan.items()},
        "inspectors": {name: [_source(cls), repr(sorted(run.makers[name].keywords.items()))]
                       for name, cls in run.insp.items()},
        "engine": [run.batch_size, run.pool, run.precision, run.pixel_budget, __version__,
                   _core_source()],
    })


def _settings(model) -> list:
    """The plain settings (numbers, strings) of the model's wrapper and of every submodule:
    what its weights do not say (a planted model's noise, a dropout rate)."""
    plain = (int, float, str, bool, type(None))
    parts = [model, *model.module.modules()]
    return [sorted((k, v) for k, v in vars(p).items() if isinstance(v, plain)) for p in parts]


def _source(cls) -> str:
    """A hash of the source file defining ``cls``."""
    path = inspect.getsourcefile(cls)
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16] if path else cls.__qualname__


def _core_source() -> str:
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def load(path: Path, key: str) -> dict | None:
    """The saved progress at ``path`` if it was saved under ``key``, else ``None``."""
    if not path.is_file():
        return None
    saved = torch.load(path, weights_only=True)
    return saved if saved.get("key") == key else None


def save(path: Path, progress: dict) -> None:
    """Write ``progress`` (tensors, numbers, strings and containers of them) atomically."""
    with atomic_path(path) as tmp:
        torch.save(progress, tmp)
