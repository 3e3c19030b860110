"""A generic bracket/quote automaton for any text, run with ``re`` and numpy (no loop per char).

Quotes: ``'...'`` and ``"..."`` end at the matching quote or, left open, before the newline;
``'''...'''`` and ``\"\"\"...\"\"\"`` may span lines. Inside a quote a backslash escapes the next
character (so an escaped newline continues a one-line quote); outside quotes it is plain text.
Brackets ``()[]{}`` outside quotes nest regardless of kind.
"""
from __future__ import annotations

import functools
import re

import numpy as np

from hyplib import hypothesis

_TRIPLE = r"QQQ[^Q\\]*(?:(?:\\.?|Q(?!QQ))[^Q\\]*)*(?:QQQ|\Z)"
_SINGLE = r"Q[^Q\\\n]*(?:\\.?[^Q\\\n]*)*Q?"
_QUOTES = re.compile("|".join(p.replace("Q", q) for p in (_TRIPLE, _SINGLE) for q in "\"'"), re.S)

_STEP = np.zeros(128, np.int8)
_STEP[[ord(c) for c in "([{"]] = 1
_STEP[[ord(c) for c in ")]}"]] = -1


def codes(text: str) -> np.ndarray:
    """The text's code points."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)


def nesting(step: np.ndarray) -> np.ndarray:
    """Bracket depth per character from steps (+1 opener, -1 closer, else 0).

    An opener counts itself as open, a closer still counts as open (the depth before it
    closes). A closer with nothing open (a record starting inside brackets) is ignored, so the
    depth never goes negative.
    """
    total = np.cumsum(step, dtype=np.int64)
    after = total - np.minimum.accumulate(np.minimum(total, 0))
    before = np.zeros_like(after)
    before[1:] = after[:-1]
    return np.where(step < 0, before, after)


@functools.lru_cache(maxsize=1024)
def scan(text: str) -> tuple[np.ndarray, np.ndarray]:
    """``(in_quote, step)`` per character: quote membership, and bracket steps outside quotes."""
    edges = np.zeros(len(text) + 1, np.int32)
    spans = np.array([m.span() for m in _QUOTES.finditer(text)], np.int64).reshape(-1, 2)
    np.add.at(edges, spans[:, 0], 1)
    np.add.at(edges, spans[:, 1], -1)
    in_quote = np.cumsum(edges[:-1]) > 0
    cp = codes(text)
    step = np.where((cp < 128) & ~in_quote, _STEP[np.minimum(cp, 127)], 0).astype(np.int8)
    in_quote.flags.writeable = step.flags.writeable = False
    return in_quote, step


@hypothesis("grammar.brackets.depth", kind="continuous")
def depth(text):
    """Nesting depth of ()[]{} outside quotes; an opener counts itself, a closer is still open."""
    return nesting(scan(text)[1])


@hypothesis("grammar.brackets.in_quote")
def in_quote(text):
    """Inside a '...', "..." (or triple) quote, quote characters included."""
    return scan(text)[0]


HYPOTHESES = [depth, in_quote]
