"""Part-of-speech hypotheses, one label per word.

Gold tags come from the records' ``upos``/``xpos`` columns (the ``ud-english-ewt`` data set has
them): ``pos.upos``, ``pos.xpos`` and one binary ``pos.upos.<TAG>`` per UPOS tag. Predicted
tags: ``pos.spacy.upos`` (spaCy en_core_web_sm) and ``pos.nltk.upos`` (an NLTK perceptron
tagger trained on EWT train). Study: ``belinkov2017`` (POS by layer of a word LSTM LM).
"""
from hyplib import hookimpl

from . import gold, taggers


@hookimpl
def hyplib_hypotheses():
    return gold.HYPOTHESES + taggers.HYPOTHESES


@hookimpl
def hyplib_studies():
    from .studies import BELINKOV2017

    return [BELINKOV2017]
