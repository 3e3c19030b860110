"""Dependency-syntax hypotheses: per word and per sentence, gold (UD) and spaCy-parsed.

Gold ones read the records' ``head``/``deprel``/``xpos`` columns (see :mod:`.gold`); the
``parse.spacy.*`` ones parse the records' words with spaCy (see :mod:`.predicted`). Study:
``shi2016`` (syntax in a word LSTM LM's states, :mod:`.studies`).
"""
from hyplib import hookimpl

from . import gold, predicted


@hookimpl
def hyplib_hypotheses():
    return gold.HYPOTHESES + predicted.HYPOTHESES


@hookimpl
def hyplib_studies():
    from .studies import SHI2016

    return [SHI2016]
