"""Dependency-syntax hypotheses: per word and per sentence, gold (UD) and spaCy-parsed.

Gold ones read the records' ``head``/``deprel``/``xpos`` columns (see :mod:`.gold`); the
``parse.spacy.*`` ones parse the records' words with spaCy (see :mod:`.predicted`). Studies:
``shi2016`` (syntax in a word LSTM LM's states, :mod:`.studies`) and ``tenney2019`` (POS and
syntax by layer of SmolLM2, :mod:`.tenney`).
"""
from hyplib import hookimpl

from . import gold, predicted


@hookimpl
def hyplib_hypotheses():
    return gold.HYPOTHESES + predicted.HYPOTHESES


@hookimpl
def hyplib_studies():
    from .studies import SHI2016
    from .tenney import TENNEY2019

    return [SHI2016, TENNEY2019]
