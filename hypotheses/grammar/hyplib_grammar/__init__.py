"""Grammar hypotheses: Python token states, generic bracket/quote nesting, the states of a
left-to-right Boolean-expression evaluator, and the parser states of NLTK context-free grammars
(with the sentences they generate as data sets)."""
from hyplib import hookimpl

from . import boolean, brackets, python


@hookimpl
def hyplib_hypotheses():
    from . import agreement, cfg

    return (python.HYPOTHESES + brackets.HYPOTHESES + boolean.HYPOTHESES + cfg.HYPOTHESES
            + agreement.HYPOTHESES)


@hookimpl
def hyplib_datasets():
    from . import agreement, cfg

    return [cfg.SOURCE, agreement.SOURCE]


@hookimpl
def hyplib_studies():
    from .lakretz import LAKRETZ2019
    from .luigi import LUIGI_FSM
    from .studies import KARPATHY2015

    return [KARPATHY2015, LUIGI_FSM, LAKRETZ2019]
