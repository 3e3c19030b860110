"""Subject-verb number agreement: an NLTK grammar with attractors, and its hypotheses.

:data:`AGREEMENT` is a PCFG of English-like sentences whose subjects are singular or plural and
whose verbs agree with them. Between a subject and its verb there may be a prepositional phrase
or a relative clause whose nouns have either number (attractors: "the dog near the cats
sleeps", "the dog that the cats like sleeps"). Non-terminals carry the number as a suffix
(``NP_sg``, ``Vi_pl``); the determiner is always "the", so only nouns and verbs show number.
Every verb comes in a singular/plural pair (:data:`VERBS`), which is what the agreement test
compares.

Hypotheses (word level): ``grammar.agreement.subject_number`` (+1 while a plural main-clause
subject waits for its verb, -1 for a singular one, 0 elsewhere), and the parser states of
:mod:`hyplib_grammar.cfg` for this grammar as ``grammar.agreement.depth`` ... ``.predicted``.
Data set: ``cfg-agreement``.
"""
from __future__ import annotations

from dataclasses import dataclass

import datasets
import nltk
import numpy as np
from nltk import Tree

from hyplib import AnnotationError, DataSource, hypothesis

from . import cfg

NOUNS = [("dog", "dogs"), ("cat", "cats"), ("boy", "boys"), ("girl", "girls"),
         ("farmer", "farmers"), ("teacher", "teachers"), ("pilot", "pilots"),
         ("singer", "singers")]
VERBS = {"Vi": [("sleeps", "sleep"), ("smiles", "smile"), ("runs", "run"), ("waits", "wait")],
         "Vt": [("sees", "see"), ("likes", "like"), ("greets", "greet"), ("helps", "help")]}
PREPOSITIONS = ("near", "behind", "with", "beside")
ADVERBS = ("often", "never", "really")


def _rules(lhs: str, words) -> str:
    return f"{lhs} -> " + " | ".join(f"'{w}' [{1 / len(words)!r}]" for w in words)


def _grammar() -> nltk.PCFG:
    lines = []
    for n, other in (("sg", "pl"), ("pl", "sg")):
        lines += [
            f"NP_{n} -> Det N_{n} [0.6] | Det N_{n} PP [0.2] | Det N_{n} RC_{n} [0.2]",
            f"RC_{n} -> Comp VP_{n} [0.4] | Comp NP_{n} Vt_{n} [0.3] | "
            f"Comp NP_{other} Vt_{other} [0.3]",
            f"VP_{n} -> Vi_{n} [0.4] | Vt_{n} NP_sg [0.2] | Vt_{n} NP_pl [0.2] | Adv VP_{n} [0.2]",
        ]
        i = 0 if n == "sg" else 1
        lines.append(_rules(f"N_{n}", [pair[i] for pair in NOUNS]))
        lines += [_rules(f"{kind}_{n}", [pair[i] for pair in pairs])
                  for kind, pairs in VERBS.items()]
    lines = ["S -> NP_sg VP_sg [0.5] | NP_pl VP_pl [0.5]", "PP -> P NP_sg [0.5] | P NP_pl [0.5]",
             "Det -> 'the' [1.0]", "Comp -> 'that' [1.0]", _rules("P", PREPOSITIONS),
             _rules("Adv", ADVERBS)] + lines
    return nltk.PCFG.fromstring("\n".join(lines))


AGREEMENT = _grammar()
OTHER_FORM = {a: b for pairs in VERBS.values() for s, p in pairs for a, b in ((s, p), (p, s))}


@dataclass(frozen=True)
class Dependency:
    """The main clause's subject-verb dependency in one sentence (0-based word indices)."""

    subject: int        # the subject's head noun
    verb: int           # the main verb
    plural: bool
    attractors: int     # nouns between them of the other number
    intervening: int    # nouns between them

    @property
    def condition(self) -> str:
        """``simple`` (no noun between), ``congruent`` or ``attractor`` (one of the other
        number between)."""
        if self.attractors:
            return "attractor"
        return "congruent" if self.intervening else "simple"


def _number(category: str) -> str | None:
    return category.rsplit("_", 1)[1] if category.endswith(("_sg", "_pl")) else None


def dependency(tree: Tree) -> Dependency:
    """The main subject-verb dependency of a tree of :data:`AGREEMENT` (``S -> NP VP``)."""
    tags = [tag for _, tag in tree.pos()]
    if tree.label() != "S" or len(tree) != 2:
        raise AnnotationError(f"not a sentence of the agreement grammar: {tree}")
    start = len(tree[0].leaves())
    subject = next(i for i, t in enumerate(tags) if t.startswith("N_"))
    verb = start + next(i for i, t in enumerate(tags[start:]) if t.startswith("V"))
    between = [_number(t) for t in tags[subject + 1:verb] if t.startswith("N_")]
    number = _number(tags[subject])
    return Dependency(subject, verb, number == "pl", sum(n != number for n in between),
                      len(between))


def subject_signal(tree: Tree) -> np.ndarray:
    """+1 (plural) or -1 (singular) from the subject's noun up to the word before the main
    verb (where the verb's number must be predicted), 0 elsewhere."""
    dep = dependency(tree)
    out = np.zeros(len(tree.leaves()), np.int8)
    out[dep.subject:dep.verb] = 1 if dep.plural else -1
    return out


@hypothesis("grammar.agreement.subject_number", kind="continuous", level="word", batched=True)
def subject_number(batch):
    """The main subject's number, carried to its verb: +1 plural, -1 singular, from the
    subject's noun to the word before the verb; 0 elsewhere."""
    if "tree" not in batch:
        raise AnnotationError("grammar.agreement.subject_number needs records with a 'tree' "
                              "column, such as the cfg-agreement data set")
    return [subject_signal(Tree.fromstring(t)) for t in batch["tree"]]


def corpus(n: int = 2000, seed: int | list[int] = 0, max_depth: int = 7) -> datasets.Dataset:
    """``n`` sentences sampled from :data:`AGREEMENT` with their trees (see :func:`cfg.corpus`)."""
    return cfg.corpus(AGREEMENT, n, seed, max_depth)


HYPOTHESES = [subject_number] + cfg.hypotheses(AGREEMENT, "grammar.agreement")
SOURCE = DataSource("cfg-agreement", corpus,
                    "Sentences with singular/plural subjects, agreeing verbs and attractors, "
                    "sampled from hyplib_grammar.agreement.AGREEMENT (seeded; n, seed, "
                    "max_depth), with their derivation trees.")
