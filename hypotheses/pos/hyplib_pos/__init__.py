"""Part-of-speech hypotheses, one label per word.

Gold tags come from the records' ``upos``/``xpos`` columns (the ``ud-english-ewt`` data set has
them): ``pos.upos``, ``pos.xpos`` and one binary ``pos.upos.<TAG>`` per UPOS tag. Predicted
tags: ``pos.spacy.upos`` (spaCy en_core_web_sm) and ``pos.nltk.upos`` (an NLTK perceptron
tagger trained on EWT train). Studies: ``belinkov2017`` (POS by layer of a word LSTM LM) and ``dalvi2019``
(POS neurons ranked by a probe, then ablated in the LM).
"""
from hyplib import hookimpl

from . import gold, taggers


@hookimpl
def hyplib_hypotheses():
    return gold.HYPOTHESES + taggers.HYPOTHESES


@hookimpl
def hyplib_studies():
    from .dalvi import DALVI2019
    from .studies import BELINKOV2017

    return [BELINKOV2017, DALVI2019]
