"""One hypothesis per grammar production (Luigi's one hypothesis per rule): a word is labelled
where it lies under a node that the production expands in the record's parse tree (its
``tree`` field, bracketed, as the grammar pack's corpora have); given an NLTK grammar, only its
productions."""
from __future__ import annotations

import functools
from collections import Counter

import nltk
import numpy as np
from nltk import Tree

from hyplib import Hypothesis, frequent, hypothesis

from .text import VERSION, safe


def rule_name(p: nltk.grammar.Production) -> str:
    """``NP -> Det N`` as ``NP=Det+N`` (terminals quoted)."""
    rhs = "+".join(str(s) if isinstance(s, nltk.Nonterminal) else repr(s) for s in p.rhs())
    return f"{p.lhs()}={rhs}"


@functools.lru_cache(maxsize=1 << 14)
def _spans(tree: str) -> tuple[int, dict[str, np.ndarray]]:
    """The tree's number of words, and each non-lexical production's mask over them."""
    parsed = Tree.fromstring(tree)
    n = len(parsed.leaves())
    out: dict[str, np.ndarray] = {}

    def walk(node: Tree, start: int) -> int:
        end = start
        for child in node:
            end = walk(child, end) if isinstance(child, Tree) else end + 1
        p = node.productions()[0]
        if p.is_nonlexical():
            out.setdefault(rule_name(p), np.zeros(n, bool))[start:end] = True
        return end

    walk(parsed, 0)
    return n, out


def productions(data, cap: int, min_count: int, grammar: nltk.CFG | str | None = None
                ) -> list[Hypothesis]:
    """``auto.rule.NP=Det+N`` for each non-lexical production covering at least
    ``min_count`` words (of ``grammar`` when given: an ``nltk.CFG`` or its text)."""
    if isinstance(grammar, str):
        grammar = nltk.CFG.fromstring(grammar)
    allowed = None if grammar is None else {rule_name(p) for p in grammar.productions()}
    counts = Counter()
    for tree in data["tree"]:
        counts.update({r: int(m.sum()) for r, m in _spans(tree)[1].items()})
    keep = [r for r in frequent(counts, len(counts), min_count)
            if allowed is None or r in allowed][:cap]
    return [_rule(r) for r in keep]


def _rule(rule: str) -> Hypothesis:
    @hypothesis(f"auto.rule.{safe(rule)}", level="word", field="tree", version=VERSION,
                description=f"The word lies under a node expanded by {rule}.")
    def fn(tree):
        n, spans = _spans(tree)
        return spans.get(rule, np.zeros(n, bool))
    return fn
