"""Provenance: what produced a result — hyplib's, torch's and each contributing distribution's
versions, the models' weights, and the run's device, precision and seed."""
from __future__ import annotations

import functools
import platform
from importlib import metadata


@functools.cache
def _owners() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def distribution_of(obj) -> str | None:
    """``"name version"`` of the installed distribution whose code defines ``obj`` (a
    function, class or instance); None for code outside any distribution (a script)."""
    fn = getattr(obj, "fn", None) or obj  # a Hypothesis's labelling function
    module = getattr(fn, "__module__", None) or type(fn).__module__
    for dist in _owners().get(module.split(".")[0], []):
        try:
            return f"{dist} {metadata.version(dist)}"
        except metadata.PackageNotFoundError:
            continue
    return None


def provenance(objects=(), models=(), **run) -> dict:
    """The versions behind a run: hyplib, torch, Python, the distributions defining
    ``objects`` (hypotheses, inspectors, studies), each model's weights fingerprint, and
    ``run``'s settings (device, precision, seed, ...)."""
    import torch

    from . import __version__
    from .behaviour_cache import model_fingerprint

    dists = sorted({d for d in map(distribution_of, objects) if d})
    return {"hyplib": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "distributions": dists,
            "models": {m.name: model_fingerprint(m.module) for m in models}, **run}
