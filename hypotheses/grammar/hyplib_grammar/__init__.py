"""Grammar hypotheses: Python token states, generic bracket/quote nesting, and the states of a
left-to-right Boolean-expression evaluator."""
from hyplib import hookimpl

from . import boolean, brackets, python


@hookimpl
def hyplib_hypotheses():
    return python.HYPOTHESES + brackets.HYPOTHESES + boolean.HYPOTHESES


@hookimpl
def hyplib_studies():
    from .luigi import LUIGI_FSM
    from .studies import KARPATHY2015

    return [KARPATHY2015, LUIGI_FSM]
