"""Gold part-of-speech hypotheses, read from the records' ``upos`` and ``xpos`` columns."""
from __future__ import annotations

from hyplib import AnnotationError, hypothesis

UPOS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON",
        "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X")
# the Penn Treebank tags of UD English-EWT (with its web additions ADD, AFX, GW, HYPH, NFP)
XPOS = ("$", "''", ",", "-LRB-", "-RRB-", ".", ":", "ADD", "AFX", "CC", "CD", "DT", "EX", "FW",
        "GW", "HYPH", "IN", "JJ", "JJR", "JJS", "LS", "MD", "NFP", "NN", "NNP", "NNPS", "NNS",
        "PDT", "POS", "PRP", "PRP$", "RB", "RBR", "RBS", "RP", "SYM", "TO", "UH", "VB", "VBD",
        "VBG", "VBN", "VBP", "VBZ", "WDT", "WP", "WP$", "WRB", "``")


def gold(batch: dict, column: str) -> list:
    """The batch's ``column``, or an error saying the data has no such gold annotation."""
    if column not in batch:
        raise AnnotationError(f"the data has no {column!r} column: gold part-of-speech "
                              f"hypotheses need records with gold tags, such as the "
                              f"ud-english-ewt data set")
    return batch[column]


@hypothesis("pos.upos", kind="categorical", level="word", classes=UPOS, batched=True)
def upos(batch):
    """The word's gold Universal POS tag."""
    return gold(batch, "upos")


@hypothesis("pos.xpos", kind="categorical", level="word", classes=XPOS, batched=True)
def xpos(batch):
    """The word's gold Penn Treebank tag."""
    return gold(batch, "xpos")


def _is_upos(tag: str):
    @hypothesis(f"pos.upos.{tag}", level="word", batched=True,
                description=f"The word's gold Universal POS tag is {tag}.")
    def fn(batch):
        return [[t == tag for t in tags] for tags in gold(batch, "upos")]

    return fn


HYPOTHESES = [upos, xpos] + [_is_upos(tag) for tag in UPOS]
