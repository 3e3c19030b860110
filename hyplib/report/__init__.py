"""Looking at what units do: a browsable HTML report of a result (:func:`write`), the mapper
graph of a layer's activation space (:func:`topo`, TopoAct), and a result's display in
notebooks. Imported lazily: the command line builds its parser without loading them."""
from __future__ import annotations

__all__ = ["write", "topo"]


def __getattr__(name):
    if name in __all__:
        from . import site
        return getattr(site, name)
    raise AttributeError(f"module 'hyplib.report' has no attribute {name!r}")
