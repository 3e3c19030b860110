"""Character-level hypotheses about plain text: character classes, words and line layout.

Lines end at ``"\\n"`` (a ``"\\r"`` is whitespace of its line); a word is a maximal run of
ASCII ``[A-Za-z0-9_]``. Labels are computed with numpy over the text's code points.
"""
from __future__ import annotations

import functools
import unicodedata

import numpy as np

from hyplib import hookimpl, hypothesis

CLASSES = ("lower", "upper", "letter", "digit", "space", "newline", "punct", "other")
LOWER, UPPER, LETTER, DIGIT, SPACE, NEWLINE, PUNCT, OTHER = range(len(CLASSES))


def _classify(ch: str) -> int:
    """The class of one character; ``letter`` is an uncased letter (e.g. CJK)."""
    if ch == "\n":
        return NEWLINE
    if ch.isspace():
        return SPACE
    if ch.islower():
        return LOWER
    if ch.isupper():
        return UPPER
    if ch.isalpha():
        return LETTER
    if ch.isdigit():
        return DIGIT
    return PUNCT if unicodedata.category(ch)[0] in "PS" else OTHER


_ASCII_CLASS = np.array([_classify(chr(c)) for c in range(128)], np.int8)
_ASCII_WORD = np.array([chr(c).isalnum() or chr(c) == "_" for c in range(128)])


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)


@functools.lru_cache(maxsize=1024)
def _classes(text: str) -> np.ndarray:
    """Class index of every character: a table for ASCII, ``str`` methods for the rest."""
    cp = _codes(text)
    cls = _ASCII_CLASS[np.minimum(cp, 127)]
    high = cp > 127
    if high.any():
        uniq, inverse = np.unique(cp[high], return_inverse=True)
        cls[high] = np.array([_classify(chr(c)) for c in uniq], np.int8)[inverse]
    cls.flags.writeable = False
    return cls


def _word(text: str) -> np.ndarray:
    cp = _codes(text)
    return (cp < 128) & _ASCII_WORD[np.minimum(cp, 127)]


def _newlines(text: str) -> np.ndarray:
    return _codes(text) == ord("\n")


@hypothesis("text.char_class", kind="categorical", classes=CLASSES)
def char_class(text):
    """Character class: lower, upper, uncased letter, digit, space, newline, punctuation, other."""
    return _classes(text)


@hypothesis("text.is_letter")
def is_letter(text):
    """The character is a letter (any script)."""
    return np.isin(_classes(text), (LOWER, UPPER, LETTER))


@hypothesis("text.is_digit")
def is_digit(text):
    """The character is a digit."""
    return _classes(text) == DIGIT


@hypothesis("text.is_space")
def is_space(text):
    """The character is whitespace other than a newline (space, tab, carriage return, ...)."""
    return _classes(text) == SPACE


@hypothesis("text.is_newline")
def is_newline(text):
    """The character is a newline."""
    return _newlines(text)


@hypothesis("text.is_upper")
def is_upper(text):
    """The character is an upper-case letter."""
    return _classes(text) == UPPER


@hypothesis("text.is_punct")
def is_punct(text):
    """The character is punctuation or a symbol (Unicode categories P and S)."""
    return _classes(text) == PUNCT


@hypothesis("text.position_in_line", kind="continuous")
def position_in_line(text):
    """0-based column of the character in its line; a newline gets the column it sits at."""
    nl = _newlines(text)
    index = np.arange(len(nl))
    starts = np.zeros(len(nl), np.int64)
    starts[1:] = np.where(nl[:-1], index[1:], 0)
    return index - np.maximum.accumulate(starts)


@hypothesis("text.line_length", kind="continuous")
def line_length(text):
    """Length of the character's line without its newline; a newline belongs to the line it ends."""
    nl = _newlines(text)
    ends = np.flatnonzero(nl)
    lengths = np.append(ends, len(nl)) - np.concatenate(([0], ends + 1))
    return lengths[np.cumsum(nl) - nl]


@hypothesis("text.in_word")
def in_word(text):
    """The character is part of a word (a run of [A-Za-z0-9_])."""
    return _word(text)


@hypothesis("text.word_start")
def word_start(text):
    """The character is the first of a word."""
    w = _word(text)
    before = np.zeros_like(w)
    before[1:] = w[:-1]
    return w & ~before


@hypothesis("text.word_end")
def word_end(text):
    """The character is the last of a word."""
    w = _word(text)
    after = np.zeros_like(w)
    after[:-1] = w[1:]
    return w & ~after


@hookimpl
def hyplib_hypotheses():
    return [char_class, is_letter, is_digit, is_space, is_newline, is_upper, is_punct,
            position_in_line, line_length, in_word, word_start, word_end]
