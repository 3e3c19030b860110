"""Dependency-syntax hypotheses from the records' gold ``head``, ``deprel`` and ``xpos`` columns.

Word level: ``parse.depth`` (arcs to the root; the root is 0), ``parse.depth_bin`` (that
depth as one of the classes 0, 1, 2, 3+), ``parse.head_distance``
(|head - i|; the root 0), ``parse.deprel`` (the universal relation, subtype dropped:
``nsubj:pass`` is ``nsubj``) and ``parse.open_constituents`` (see :func:`trees.open_arcs`).
Record level: ``parse.sentence.length`` (words), ``parse.sentence.depth`` (the largest word
depth), ``parse.sentence.voice`` and ``parse.sentence.tense``.
"""
from __future__ import annotations

from hyplib import AnnotationError, hypothesis

from . import trees

# the UD v2 universal dependency relations
RELATIONS = ("acl", "advcl", "advmod", "amod", "appos", "aux", "case", "cc", "ccomp", "clf",
             "compound", "conj", "cop", "csubj", "dep", "det", "discourse", "dislocated",
             "expl", "fixed", "flat", "goeswith", "iobj", "list", "mark", "nmod", "nsubj",
             "nummod", "obj", "obl", "orphan", "parataxis", "punct", "reparandum", "root",
             "vocative", "xcomp")
PASSIVE = frozenset({"nsubj:pass", "csubj:pass", "aux:pass"})
DEPTH_BINS = ("0", "1", "2", "3+")
FINITE = {"VBD": "past", "VBP": "present", "VBZ": "present", "MD": "other"}


def gold(batch: dict, column: str) -> list:
    """The batch's ``column``, or an error saying the data has no such gold annotation."""
    if column not in batch:
        raise AnnotationError(f"the data has no {column!r} column: gold parse hypotheses need "
                              f"records with gold dependency trees, such as the ud-english-ewt "
                              f"data set")
    return batch[column]


@hypothesis("parse.depth", kind="continuous", level="word", batched=True)
def depth(batch):
    """The number of dependency arcs from the word up to the root (the root has depth 0)."""
    return [trees.depth(h) for h in gold(batch, "head")]


@hypothesis("parse.depth_bin", kind="categorical", level="word", classes=DEPTH_BINS,
            batched=True)
def depth_bin(batch):
    """The word's depth as a class: 0 (the root), 1, 2, or 3+ arcs from the root."""
    return [[DEPTH_BINS[d] for d in trees.depth(h).clip(max=3)] for h in gold(batch, "head")]


@hypothesis("parse.head_distance", kind="continuous", level="word", batched=True)
def head_distance(batch):
    """|head - i|: how many words away the word's head is (0 for the root)."""
    return [trees.head_distance(h) for h in gold(batch, "head")]


@hypothesis("parse.deprel", kind="categorical", level="word", classes=RELATIONS, batched=True)
def deprel(batch):
    """The word's universal dependency relation to its head, subtype dropped."""
    return [[r.split(":")[0] for r in rels] for rels in gold(batch, "deprel")]


@hypothesis("parse.open_constituents", kind="continuous", level="word", batched=True)
def open_constituents(batch):
    """Arcs open at word i: arcs (h, d) between words with min(h, d) < i <= max(h, d)."""
    return [trees.open_arcs(h) for h in gold(batch, "head")]


@hypothesis("parse.sentence.length", kind="continuous", level="record", batched=True)
def sentence_length(batch):
    """The number of words in the sentence."""
    return [len(h) for h in gold(batch, "head")]


@hypothesis("parse.sentence.depth", kind="continuous", level="record", batched=True)
def sentence_depth(batch):
    """The depth of the sentence's dependency tree: its deepest word's depth."""
    return [int(trees.depth(h).max(initial=0)) for h in gold(batch, "head")]


@hypothesis("parse.sentence.voice", kind="categorical", level="record",
            classes=("active", "passive"), batched=True)
def sentence_voice(batch):
    """Passive if any word's relation is nsubj:pass, csubj:pass or aux:pass, else active."""
    return ["passive" if PASSIVE.intersection(rels) else "active"
            for rels in gold(batch, "deprel")]


def tense(head: list[int], deprel: list[str], xpos: list[str]) -> str:
    """The tense of the root's clause, from the tag of its first finite verb.

    Among the root and its aux, aux:pass and cop dependents, the leftmost word tagged VBD
    gives ``past``, VBP or VBZ ``present``, MD (a modal) ``other``; with none of those (an
    imperative, infinitive or verbless root) the tense is ``other``.
    """
    root = head.index(0) + 1 if 0 in head else 0
    clause = [i for i, (h, r) in enumerate(zip(head, deprel), 1)
              if i == root or (h == root and r in ("aux", "aux:pass", "cop"))]
    tags = [xpos[i - 1] for i in clause if xpos[i - 1] in FINITE]
    return FINITE[tags[0]] if tags else "other"


@hypothesis("parse.sentence.tense", kind="categorical", level="record",
            classes=("past", "present", "other"), batched=True)
def sentence_tense(batch):
    """Past or present from the root's first finite verb (root, aux or cop); else other."""
    return [tense(h, r, x) for h, r, x in zip(gold(batch, "head"), gold(batch, "deprel"),
                                                gold(batch, "xpos"))]


HYPOTHESES = [depth, depth_bin, head_distance, deprel, open_constituents, sentence_length,
              sentence_depth, sentence_voice, sentence_tense]
