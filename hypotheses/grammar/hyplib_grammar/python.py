"""Python source states from the standard ``tokenize`` module, mapped to character offsets.

Records may be cut out of files, so tokenizing is tolerant: an inconsistent dedent restarts the
tokenizer at that line; after any other failure (EOF inside a string or brackets, an
unterminated one-line string) the rest of the text is labelled by the automaton of
:mod:`hyplib_grammar.brackets` (quotes become strings). One tokenization per text (cached)
serves all the hypotheses here.

``bracket_depth`` counts the ( [ { open at a character: an opener counts itself, a closer still
counts as open (the depth before it closes), a closer with nothing open is ignored.
``indent_level`` is constant over a logical line, from column 0 of its first physical line to
its NEWLINE; blank and comment-only lines keep the level of the logical line before them.
Levels equal tokenize's INDENT/DEDENT stack depth; a dedent to a width between two open levels
(tokenize's IndentationError) nests in the lower one, and a record starting indented is at 1.
"""
from __future__ import annotations

import functools
import io
import keyword
import re
import tokenize
from typing import NamedTuple

import numpy as np

from hyplib import hypothesis

from .brackets import codes, nesting, scan

CLASSES = ("name", "keyword", "number", "string", "comment", "op", "newline", "whitespace", "other")
NAME, KEYWORD, NUMBER, STRING, COMMENT, OP, NEWLINE, WHITESPACE, OTHER = range(len(CLASSES))
_CLASS_OF = {"NAME": NAME, "NUMBER": NUMBER, "STRING": STRING, "FSTRING_START": STRING,
             "FSTRING_MIDDLE": STRING, "FSTRING_END": STRING, "COMMENT": COMMENT, "OP": OP,
             "NEWLINE": NEWLINE, "NL": NEWLINE}
_NOT_CODE = {tokenize.NL, tokenize.COMMENT, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
             tokenize.ENDMARKER}
_STEP = {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}
_PREFIX = re.compile(tokenize.StringPrefix)
_STRING_HEAD = re.compile(tokenize.StringPrefix + "(?=['\"])")
_SPACES = np.array([ord(c) for c in " \t\n\r\f\v"], np.uint32)


class Analysis(NamedTuple):
    """Per-character arrays of one text."""

    token_class: np.ndarray
    bracket_depth: np.ndarray
    indent_level: np.ndarray


def _tokenize(lines: list[str]) -> tuple[list[tokenize.TokenInfo], tuple[int, int]]:
    """The tokens of ``lines`` (rows 0-based) and the (row, col) where tokenizing stopped."""
    tokens, base = [], 0

    def at(pos):
        return base + pos[0] - 1, pos[1]

    while True:
        try:
            for tok in tokenize.generate_tokens(functools.partial(next, iter(lines[base:]), "")):
                tok = tok._replace(start=at(tok.start), end=at(tok.end))
                if tok.type == tokenize.ERRORTOKEN and tok.string in ("'", '"'):  # unterminated
                    prev = tokens[-1] if tokens else None
                    if prev and prev.end == tok.start and _PREFIX.fullmatch(prev.string):
                        tok = tokens.pop()  # its string prefix, tokenized as a name
                    return tokens, tok.start
                tokens.append(tok)
            return tokens, (len(lines), 0)
        except IndentationError as e:  # a dedent matching no outer level: start afresh there
            base += max(e.lineno - 1, 1)
        except (tokenize.TokenError, SyntaxError) as e:
            if isinstance(e, tokenize.TokenError):
                return tokens, at(e.args[1])
            return tokens, at((e.lineno or 1, (e.offset or 1) - 1))


def _read(tokens: list[tokenize.TokenInfo]):
    """From the tokens: painted spans (class, row, col, end row, end col), bracket steps
    (step, row, col), and the row and indentation width of each logical line."""
    spans, steps, rows, widths, new_line = [], [], [], [], True
    for tok in tokens:
        cls = _CLASS_OF.get(tokenize.tok_name[tok.type])
        if cls is not None:
            cls = KEYWORD if cls == NAME and keyword.iskeyword(tok.string) else cls
            spans.append((cls, *tok.start, *tok.end))
        if tok.type == tokenize.OP and tok.string in _STEP:
            steps.append((_STEP[tok.string], *tok.start))
        if tok.type == tokenize.NEWLINE:
            new_line = True
        elif new_line and tok.type not in _NOT_CODE:
            new_line = False
            rows.append(tok.start[0])
            widths.append(len(tok.line[:tok.start[1]].expandtabs(8)))
    return (np.array(spans, np.int64).reshape(-1, 5), np.array(steps, np.int64).reshape(-1, 3),
            np.array(rows, np.int64), widths)


def _levels(widths: list[int]) -> list[int]:
    """Indentation levels of logical lines from their widths, as tokenize's INDENT/DEDENT stack
    counts them; a dedent to a width between two open levels nests in the lower one."""
    stack, levels = [0], []
    for width in widths:
        while stack[-1] > width:
            stack.pop()
        if stack[-1] < width:
            stack.append(width)
        levels.append(len(stack) - 1)
    return levels


@functools.lru_cache(maxsize=1024)
def analyse(text: str) -> Analysis:
    """Tokenize ``text`` once and label every character (arrays are read-only)."""
    n = len(text)
    lines = io.StringIO(text).readlines()
    line_start = np.cumsum([0] + [len(line) for line in lines])

    def offset(row, col):
        return np.minimum(line_start[np.minimum(row, len(lines))] + col, n)

    tokens, stop = _tokenize(lines)
    stop = int(offset(*stop))
    spans, steps, rows, widths = _read(tokens)

    edges = np.zeros(n + 1, np.int64)  # token class + 1 from a token's start to its end
    np.add.at(edges, offset(spans[:, 1], spans[:, 2]), spans[:, 0] + 1)
    np.add.at(edges, offset(spans[:, 3], spans[:, 4]), -spans[:, 0] - 1)
    painted = np.cumsum(edges[:-1])
    blank = np.where(np.isin(codes(text), _SPACES), WHITESPACE, OTHER)
    token_class = np.where(painted > 0, painted - 1, blank).astype(np.int8)
    step = np.zeros(n, np.int8)
    step[offset(steps[:, 1], steps[:, 2])] = steps[:, 0]

    rest_quote, rest_step = scan(text[stop:])
    step[stop:] = rest_step
    token_class[stop:][rest_quote] = STRING
    head = _STRING_HEAD.match(text, stop)
    if head:  # the prefix of an unterminated string
        token_class[stop:head.end()] = STRING

    indent = np.zeros(n + 1, np.int64)
    indent[line_start[rows]] = np.diff(_levels(widths), prepend=0)
    result = Analysis(token_class, nesting(step), np.cumsum(indent[:-1]))
    for array in result:
        array.flags.writeable = False
    return result


@hypothesis("grammar.python.token_type", kind="categorical", classes=CLASSES)
def token_type(text):
    """Class of the Python token holding the character; whitespace/other outside tokens."""
    return analyse(text).token_class


@hypothesis("grammar.python.in_string")
def in_string(text):
    """Inside a Python string literal, prefix and quotes included."""
    return analyse(text).token_class == STRING


@hypothesis("grammar.python.in_comment")
def in_comment(text):
    """Inside a Python comment, from # to the end of the line."""
    return analyse(text).token_class == COMMENT


@hypothesis("grammar.python.keyword")
def is_keyword(text):
    """Inside a Python keyword (keyword.iskeyword; soft keywords excluded)."""
    return analyse(text).token_class == KEYWORD


@hypothesis("grammar.python.bracket_depth", kind="continuous")
def bracket_depth(text):
    """Open ( [ { outside strings and comments; an opener counts itself, a closer is still open."""
    return analyse(text).bracket_depth


@hypothesis("grammar.python.indent_level", kind="continuous")
def indent_level(text):
    """INDENT depth of the character's logical line (blank/comment lines keep the previous one)."""
    return analyse(text).indent_level


HYPOTHESES = [token_type, in_string, in_comment, is_keyword, bracket_depth, indent_level]
