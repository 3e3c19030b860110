"""hyplib: deep neural inspection with a library of hypotheses.

Run a model over records, record what its hidden units do on each symbol, and score every unit
against hypotheses (functions that label the same symbols) with streaming inspectors.
"""
__version__ = "0.1.0"

from .errors import HyplibError
from .hookspecs import hookimpl
from .types import Hypothesis, Inspector, LabelColumn, Scores, hypothesis, unit_name

__all__ = ["__version__", "HyplibError", "Hypothesis", "Inspector", "LabelColumn", "Scores",
           "hookimpl", "hypothesis", "unit_name", "inspect", "catalog"]


def __getattr__(name):
    if name == "inspect":
        from .engine import inspect
        return inspect
    if name == "catalog":
        from .plugins import catalog
        return catalog
    raise AttributeError(f"module 'hyplib' has no attribute {name!r}")
