"""Generators over plain text: characters, Unicode character classes, tokens, character n-grams
and regex classes. Each text's code points and tokens are computed once (cached) and shared by
all the hypotheses of a generator; labels are numpy masks over the text's characters.
"""
from __future__ import annotations

import functools
import re
import string
import unicodedata
from collections import Counter

import numpy as np

from hyplib import Hypothesis, frequent, hypothesis

VERSION = "gen1"
MAX_TOKEN = 24  # longer tokens are not counted (a name holds at most 200 characters)
TOKEN = re.compile(r"\w+|[^\w\s]+")
REGEXES = {  # name: pattern; every character of a match is labelled
    "number": r"\b\d+(?:\.\d+)?\b",
    "hex": r"\b0[xX][0-9a-fA-F]+\b",
    "capitalised": r"\b[A-Z][a-z]+\b",
    "all_caps": r"\b[A-Z][A-Z0-9_]+\b",
    "lower_word": r"\b[a-z]+\b",
    "camel_case": r"\b[a-z]+(?:[A-Z][a-z0-9]*)+\b",
    "snake_case": r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b",
    "dunder": r"\b__\w+__\b",
    "indent": r"(?m)^[ \t]+",
    "space_run": r"(?<=\S) {2,}",
    "quoted": r"\"[^\"\n]*\"|'[^'\n]*'",
    "hash_comment": r"#[^\n]*",
    "url": r"https?://\S+",
    "email": r"\b[\w.+-]+@[\w-]+\.[\w.]+\b",
    "punct_run": r"[^\w\s]{2,}",
    "bracketed": r"\([^()\n]*\)|\[[^\[\]\n]*\]|\{[^{}\n]*\}",
}


NAME_CHARS = frozenset(string.ascii_letters + string.digits + "_.:=+-(),")


def safe(s: str) -> str:
    """``s`` as a name part: the characters a hypothesis name allows as they are (except
    ``[]``, which a glob would read), every other one as ``U+XXXX``."""
    return "".join(c if c in NAME_CHARS else f"U+{ord(c):04X}" for c in s)


@functools.lru_cache(maxsize=4096)
def codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)


@functools.lru_cache(maxsize=4096)
def _tokens(text: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each token's (starts, ends) in ``text``."""
    spans: dict[str, list] = {}
    for m in TOKEN.finditer(text):
        spans.setdefault(m.group(), []).append(m.span())
    return {t: tuple(np.array(s).T) for t, s in spans.items()}


def spans_mask(n: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """A boolean mask of length ``n`` true on every ``[start, end)``."""
    d = np.bincount(starts, minlength=n + 1) - np.bincount(ends, minlength=n + 1)
    return np.cumsum(d[:n]) > 0


def _char_hypothesis(name: str, description: str, fn) -> Hypothesis:
    return hypothesis(name, version=VERSION, description=description)(fn)


def chars(data, cap: int, min_count: int) -> list[Hypothesis]:
    counts = Counter()
    for text in data["text"]:
        counts.update(text)
    return [_char_equals(c) for c in frequent(counts, cap, min_count)]


def _char_equals(c: str) -> Hypothesis:
    cp = ord(c)
    return _char_hypothesis(f"auto.char.{safe(c)}", f"The character is {c!r}.",
                            lambda text: codes(text) == cp)


CATEGORIES = ("Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps",
              "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs",
              "Co", "Cn")
_ASCII_CATEGORY = np.array([CATEGORIES.index(unicodedata.category(chr(c))) for c in range(128)],
                           np.int8)


@functools.lru_cache(maxsize=4096)
def categories(text: str) -> np.ndarray:
    """The Unicode general category (index into ``CATEGORIES``) of each character."""
    cp = codes(text)
    out = _ASCII_CATEGORY[np.minimum(cp, 127)]
    high = cp > 127
    if high.any():
        uniq, inverse = np.unique(cp[high], return_inverse=True)
        out[high] = np.array([CATEGORIES.index(unicodedata.category(chr(c))) for c in uniq],
                             np.int8)[inverse]
    return out


def charclasses(data, cap: int, min_count: int) -> list[Hypothesis]:
    counts = sum((np.bincount(categories(t), minlength=len(CATEGORIES)) for t in data["text"]),
                 np.zeros(len(CATEGORIES), np.int64))
    keep = frequent(Counter(dict(zip(CATEGORIES, counts.tolist()))), cap, min_count)
    return [_category_is(c) for c in keep]


def _category_is(cat: str) -> Hypothesis:
    i = CATEGORIES.index(cat)
    return _char_hypothesis(f"auto.charclass.{cat}",
                            f"The character's Unicode general category is {cat}.",
                            lambda text: categories(text) == i)


def tokens(data, cap: int, min_count: int) -> list[Hypothesis]:
    """Word-level (``words == token``) where the records have ``words`` and ``word_spans``,
    else the characters of each occurrence of the token (``\\w+`` or a punctuation run)."""
    counts = Counter()
    if {"words", "word_spans"} <= set(data.column_names):
        for words in data["words"]:
            counts.update(w for w in words if len(w) <= MAX_TOKEN)
        return [_word_is(t) for t in frequent(counts, cap, min_count)]
    for text in data["text"]:
        counts.update({t: len(s[0]) for t, s in _tokens(text).items() if len(t) <= MAX_TOKEN})
    return [_token_chars(t) for t in frequent(counts, cap, min_count)]


def _word_is(token: str) -> Hypothesis:
    @hypothesis(f"auto.token.{safe(token)}", level="word", field="words", version=VERSION,
                description=f"The word is {token!r}.")
    def fn(words):
        return [w == token for w in words]
    return fn


def _token_chars(token: str) -> Hypothesis:
    def fn(text):
        spans = _tokens(text).get(token)
        return spans_mask(len(text), *spans) if spans else np.zeros(len(text), bool)
    return _char_hypothesis(f"auto.token.{safe(token)}",
                            f"The character belongs to the token {token!r}.", fn)


@functools.lru_cache(maxsize=4096)
def _grams(text: str, k: int) -> dict[str, np.ndarray]:
    """Where each ``k``-gram of ``text`` starts."""
    at: dict[str, list[int]] = {}
    for i in range(len(text) - k + 1):
        at.setdefault(text[i:i + k], []).append(i)
    return {g: np.array(s) for g, s in at.items()}


def ngrams(data, cap: int, min_count: int, n: tuple[int, ...] = (2, 3)) -> list[Hypothesis]:
    """Character n-grams that contain a non-space character."""
    counts = Counter()
    for text in data["text"]:
        for k in n:
            counts.update({g: len(s) for g, s in _grams(text, k).items()})
    keep = [g for g in frequent(counts, len(counts), min_count) if g.strip()][:cap]
    return [_ngram(g) for g in keep]


def _ngram(gram: str) -> Hypothesis:
    k = len(gram)

    def fn(text):
        starts = _grams(text, k).get(gram)
        return (spans_mask(len(text), starts, starts + k) if starts is not None
                else np.zeros(len(text), bool))
    return _char_hypothesis(f"auto.ngram.{safe(gram)}",
                            f"The character is part of an occurrence of {gram!r}.", fn)


def regexes(data, cap: int, min_count: int) -> list[Hypothesis]:
    compiled = {name: re.compile(p) for name, p in REGEXES.items()}
    counts = Counter()
    for text in data["text"]:
        for name, rx in compiled.items():
            counts[name] += sum(m.end() - m.start() for m in rx.finditer(text))
    return [_regex(name, compiled[name]) for name in frequent(counts, cap, min_count)]


def _regex(name: str, rx: re.Pattern) -> Hypothesis:
    def fn(text):
        spans = np.array([m.span() for m in rx.finditer(text)], np.int64).reshape(-1, 2)
        return spans_mask(len(text), spans[:, 0], spans[:, 1])
    return _char_hypothesis(f"auto.regex.{name}",
                            f"The character is inside a match of /{rx.pattern}/.", fn)
