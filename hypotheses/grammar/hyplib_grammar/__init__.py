"""Grammar hypotheses: Python token states, generic bracket/quote nesting, the states of a
left-to-right Boolean-expression evaluator, and the parser states of NLTK context-free grammars
(with the sentences they generate as data sets)."""
from hyplib import hookimpl

from . import boolean, brackets, python


@hookimpl
def hyplib_hypotheses():
    from . import cfg

    return python.HYPOTHESES + brackets.HYPOTHESES + boolean.HYPOTHESES + cfg.HYPOTHESES


@hookimpl
def hyplib_datasets():
    from . import cfg

    return [cfg.SOURCE]


@hookimpl
def hyplib_studies():
    from .luigi import LUIGI_FSM
    from .studies import KARPATHY2015

    return [KARPATHY2015, LUIGI_FSM]
