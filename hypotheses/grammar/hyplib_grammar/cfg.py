"""Parser states of a context-free grammar, per word, from NLTK grammars and trees.

A grammar is an ``nltk.CFG`` or ``nltk.PCFG``. :func:`corpus` samples a seeded corpus from it
(PCFG probabilities, uniform choices for a plain CFG) with a cap on the derivation's height;
each record keeps its derivation as a bracketed ``tree``, so the labels come from the structure
that produced the sentence. Records without a ``tree`` column are parsed with NLTK
(``ViterbiParser`` for a PCFG: the most probable parse; ``ChartParser``'s first parse for a CFG).

The state after each word, for a tree whose words are ``w1 .. wn``:

- ``depth``: the constituents open at the word: the nodes above its category (the root counts);
  in ``(S (NP (Det the) (N dog)) (VP (V sleeps)))`` every word has depth 2.
- ``stack``: the size of a top-down (leftmost-derivation) parser's stack once the word is
  matched: the symbols predicted but not begun (after ``the``: ``N VP``, so 2).
- ``category``: the node right above the word (with pre-terminals, its part of speech).
- ``parent``: the constituent the word's category belongs to (the category's parent; the root
  itself when the category is the root).
- ``next``: the category of the next word (``<end>`` after the last).
- ``predicted``: the top of the top-down parser's stack, i.e. the symbol it expands next
  (``<end>`` when the stack is empty; ``<word>`` when a rule predicts a literal word).

:func:`hypotheses` makes the word-level hypotheses ``PREFIX.depth``, ``.stack``, ``.category``,
``.parent``, ``.next`` and ``.predicted`` for one grammar (classes: its non-terminals). The pack
registers them as ``grammar.cfg.*`` for :data:`ENGLISH` and its corpus as the data set
``cfg-english``.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import datasets
import nltk
import numpy as np
from nltk import Nonterminal, Tree

from hyplib import AnnotationError, DataSource, HyplibError, Hypothesis, hypothesis

END, WORD = "<end>", "<word>"

ENGLISH = nltk.PCFG.fromstring("""
S -> NP VP [1.0]
NP -> Det N [0.5] | Det Adj N [0.15] | NP PP [0.15] | NP RC [0.1] | Name [0.1]
PP -> P NP [1.0]
RC -> Comp VP [0.5] | Comp NP Vt [0.5]
VP -> Vi [0.35] | Vt NP [0.35] | VP PP [0.1] | Vs Comp S [0.1] | Adv VP [0.1]
Det -> 'the' [0.6] | 'a' [0.4]
N -> 'dog' [0.2] | 'cat' [0.2] | 'girl' [0.2] | 'boy' [0.2] | 'park' [0.1] | 'telescope' [0.1]
Adj -> 'big' [0.4] | 'old' [0.3] | 'small' [0.3]
Name -> 'mary' [0.5] | 'john' [0.5]
P -> 'in' [0.4] | 'with' [0.3] | 'near' [0.3]
Comp -> 'that' [1.0]
Vi -> 'sleeps' [0.4] | 'runs' [0.3] | 'laughs' [0.3]
Vt -> 'sees' [0.4] | 'likes' [0.3] | 'chases' [0.3]
Vs -> 'thinks' [0.5] | 'says' [0.5]
Adv -> 'often' [0.5] | 'quietly' [0.5]
""")
"""A small English PCFG with recursion through prepositional phrases, subject and object
relative clauses and sentential complements (``S -> NP VP``, ``VP -> Vs Comp S``)."""


@dataclass(frozen=True)
class WordState:
    """The parser state after one word (see the module doc)."""

    depth: int
    stack: int
    category: str
    parent: str
    next: str
    predicted: str


def _symbol(node) -> str:
    return node.label() if isinstance(node, Tree) else WORD


def tree_states(tree: Tree) -> list[WordState]:
    """The state after each word of ``tree``, in one walk over its nodes."""
    rows: list[tuple] = []

    def walk(node: Tree, depth: int, pending: int, top: str, parent: str) -> None:
        for i, child in enumerate(node):
            right = len(node) - 1 - i
            child_pending = pending + right
            child_top = _symbol(node[i + 1]) if right else top
            if isinstance(child, Tree):
                walk(child, depth + 1, child_pending, child_top, node.label())
            else:
                rows.append((depth, child_pending, node.label(), parent, child_top))

    walk(tree, 0, 0, END, tree.label())
    nexts = [r[2] for r in rows[1:]] + [END]
    return [WordState(*r[:4], n, r[4]) for r, n in zip(rows, nexts)]


def _min_heights(grammar: nltk.CFG) -> dict[Nonterminal, int]:
    """The height of the lowest tree each non-terminal derives (a word has height 0)."""
    inf = float("inf")
    height = {p.lhs(): inf for p in grammar.productions()}
    changed = True
    while changed:
        changed = False
        for p in grammar.productions():
            h = 1 + max((height.get(s, inf) if isinstance(s, Nonterminal) else 0
                         for s in p.rhs()), default=0)
            if h < height[p.lhs()]:
                height[p.lhs()], changed = h, True
    return height


class Sampler:
    """Seeded random derivations of a grammar whose trees are at most ``max_depth`` high.

    At a node that may still grow ``b`` levels, only the productions whose symbols all derive
    a tree of height below ``b`` are allowed, their probabilities renormalised; a PCFG's
    probabilities are used as they are when the cap does not bind.
    """

    def __init__(self, grammar: nltk.CFG, max_depth: int):
        self.grammar = grammar
        self.heights = _min_heights(grammar)
        least = self.heights[grammar.start()]
        if least > max_depth:
            raise HyplibError(f"max_depth={max_depth} is below the height {least} of the "
                              f"grammar's lowest tree: raise max_depth to at least {least}")
        self.max_depth = max_depth
        self.options = {}
        for lhs in self.heights:
            prods = grammar.productions(lhs=lhs)
            need = np.array([max((self.heights[s] for s in p.rhs() if isinstance(s, Nonterminal)),
                                 default=0) for p in prods])
            weight = np.array([p.prob() if isinstance(p, nltk.ProbabilisticProduction) else 1.0
                               for p in prods])
            self.options[lhs] = (prods, need, weight)

    def tree(self, rng: np.random.Generator, lhs: Nonterminal | None = None,
             budget: int | None = None) -> Tree:
        lhs = lhs or self.grammar.start()
        budget = self.max_depth if budget is None else budget
        prods, need, weight = self.options[lhs]
        w = np.where(need < budget, weight, 0.0)
        pick = prods[int(np.searchsorted(np.cumsum(w), rng.random() * w.sum(), side="right"))]
        return Tree(lhs.symbol(), [self.tree(rng, s, budget - 1) if isinstance(s, Nonterminal)
                                   else s for s in pick.rhs()])


def records(trees: list[Tree]) -> dict[str, list]:
    """Word-level records (``text``, ``words``, ``word_spans``, ``tree``) of derivation trees."""
    out: dict[str, list] = {"text": [], "words": [], "word_spans": [], "tree": []}
    for tree in trees:
        words = tree.leaves()
        ends = np.cumsum([len(w) + 1 for w in words]) - 1
        out["text"].append(" ".join(words))
        out["words"].append(words)
        out["word_spans"].append(np.stack([ends - [len(w) for w in words], ends], 1).tolist())
        out["tree"].append(tree.pformat(margin=1 << 30))
    return out


def sample_trees(grammar: nltk.CFG, n: int, seed: int | list[int] = 0, max_depth: int = 8
                 ) -> list[Tree]:
    """``n`` derivations of ``grammar``, the same for the same seed."""
    sampler, rng = Sampler(grammar, max_depth), np.random.default_rng(seed)
    return [sampler.tree(rng) for _ in range(n)]


def corpus(grammar: nltk.CFG, n: int = 2000, seed: int | list[int] = 0, max_depth: int = 8
           ) -> datasets.Dataset:
    """A seeded corpus of ``n`` sentences sampled from ``grammar`` (see :func:`records`)."""
    return datasets.Dataset.from_dict(records(sample_trees(grammar, n, seed, max_depth)))


class Parses:
    """The trees of a batch of records: their ``tree`` column, else an NLTK parse of their
    words; states cached by tree so that the hypotheses of one grammar share one walk."""

    def __init__(self, grammar: nltk.CFG):
        self.grammar = grammar
        self.lexicon = {w for p in grammar.productions() for w in p.rhs() if isinstance(w, str)}
        self.parser = (nltk.ViterbiParser(grammar) if isinstance(grammar, nltk.PCFG)
                       else nltk.ChartParser(grammar))
        self.states = functools.lru_cache(maxsize=1 << 14)(self._states)

    def parse(self, words: list[str]) -> Tree:
        text = " ".join(words)
        shown = repr(text if len(text) <= 80 else text[:77] + "...")
        missing = list(dict.fromkeys(w for w in words if w not in self.lexicon))
        if missing:
            raise AnnotationError(f"the sentence {shown} uses words outside the grammar's "
                                  f"lexicon: {', '.join(map(repr, missing[:5]))}"
                                  f"{' ...' if len(missing) > 5 else ''}")
        tree = next(iter(self.parser.parse(words)), None)
        if tree is None:
            raise AnnotationError(f"the sentence {shown} is not in the grammar's language "
                                  f"(no parse)")
        return tree

    def _states(self, tree: str | None, words: tuple[str, ...]) -> list[WordState]:
        parsed = Tree.fromstring(tree) if tree is not None else self.parse(list(words))
        if tuple(parsed.leaves()) != words:
            raise AnnotationError(f"the tree's words {parsed.leaves()} differ from the record's "
                                  f"words {list(words)}")
        return tree_states(parsed)

    def batch(self, batch: dict) -> list[list[WordState]]:
        words = batch.get("words") or [t.split() for t in batch["text"]]
        trees = batch.get("tree") or [None] * len(words)
        return [self.states(t, tuple(w)) for t, w in zip(trees, words)]


def state_classes(grammar: nltk.CFG) -> dict[str, tuple[str, ...]]:
    """The values each categorical state can take in ``grammar``'s trees, in grammar order."""
    prods = grammar.productions()
    lexical = list(dict.fromkeys(p.lhs().symbol() for p in prods
                                 if any(isinstance(s, str) for s in p.rhs())))
    parents = [p.lhs().symbol() for p in prods
               if any(isinstance(s, Nonterminal) and s.symbol() in lexical for s in p.rhs())]
    if grammar.start().symbol() in lexical:
        parents.append(grammar.start().symbol())
    later = [s for p in prods for s in p.rhs()[1:]]
    predicted = [s.symbol() for s in later if isinstance(s, Nonterminal)]
    predicted += [END] + ([WORD] if any(isinstance(s, str) for s in later) else [])
    return {"category": tuple(lexical), "parent": tuple(dict.fromkeys(parents)),
            "next": tuple(lexical) + (END,), "predicted": tuple(dict.fromkeys(predicted))}


def hypotheses(grammar: nltk.CFG, prefix: str, version: str = "1") -> list[Hypothesis]:
    """The word-level parser-state hypotheses ``{prefix}.depth`` ... ``{prefix}.predicted``."""
    parses = Parses(grammar)
    classes = state_classes(grammar)
    said = {
        "depth": "constituents open at the word: the nodes above its category",
        "stack": "symbols on a top-down parser's stack once the word is matched",
        "category": "the word's category: the node right above it",
        "parent": "the constituent the word's category belongs to",
        "next": "the category of the next word (<end> after the last)",
        "predicted": "the symbol a top-down parser expands next (<end> when done)",
    }

    def make(field: str) -> Hypothesis:
        def fn(batch):
            return [[getattr(s, field) for s in states] for states in parses.batch(batch)]

        kind = "categorical" if field in classes else "continuous"
        return hypothesis(f"{prefix}.{field}", kind=kind, level="word", version=version,
                          classes=classes.get(field, ()), batched=True,
                          description=said[field])(fn)

    return [make(field) for field in said]


HYPOTHESES = hypotheses(ENGLISH, "grammar.cfg")
SOURCE = DataSource("cfg-english", functools.partial(corpus, ENGLISH),
                    "Sentences sampled from hyplib_grammar.cfg.ENGLISH, a small English PCFG "
                    "(seeded; n, seed, max_depth), with their derivation trees.")
