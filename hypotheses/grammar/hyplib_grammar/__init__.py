"""Grammar hypotheses: Python token states and generic bracket/quote nesting."""
from hyplib import hookimpl

from . import brackets, python


@hookimpl
def hyplib_hypotheses():
    return python.HYPOTHESES + brackets.HYPOTHESES


@hookimpl
def hyplib_studies():
    from .studies import KARPATHY2015

    return [KARPATHY2015]
