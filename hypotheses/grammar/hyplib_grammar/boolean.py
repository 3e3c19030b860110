"""Boolean expressions evaluated strictly left to right, and the states of their evaluator.

An expression alternates operands and operators, starting with an operand: ``T&F|T`` is
``(T & F) | T`` (no precedence, no parentheses), over the alphabet ``T F & |``. The evaluator
keeps the running value (the value of the expression read so far) and the pending operator.
Its state after each character:

=============  ===========================================  ===========
state          after                                         value label
=============  ===========================================  ===========
``start``      a character outside any expression             0
``true``       an operand, running value T                    1
``false``      an operand, running value F                    0
``and_true``   ``&`` with running value T                     1
``and_false``  ``&`` with running value F                     0
``or_true``    ``|`` with running value T                     1
``or_false``   ``|`` with running value F                     0
=============  ===========================================  ===========

so at an operator the value is that of the expression before it. The evaluator begins in
``start`` and reads any text: an operand continues the expression after a pending operator and
otherwise starts a new one (``TT`` is two expressions); an operator after anything but an
operand, and every character outside the alphabet, leaves no expression open (``start``). On
well-formed expressions ``start`` labels no character, and all six other states are needed by a
machine that outputs the value after every character (``and_true`` and ``or_true`` output the
same now but differ on ``F`` next). Labels are computed without a loop over characters: the
running value after an operand is the operand at the last position, at or before it, where the
value stops depending on the past (an expression's first operand, ``&F`` or ``|T``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from hyplib import hypothesis

STATES = ("start", "true", "false", "and_true", "and_false", "or_true", "or_false")
_CODES = np.frombuffer(b"TF&|", np.uint8)
T, F, AND, OR = (ord(c) for c in "TF&|")


def expressions(n: int, seed: int | Sequence[int] = 0, operands: tuple[int, int] = (1, 10)
                ) -> list[str]:
    """``n`` random expressions, each with a uniform number of operands in the inclusive range
    ``operands`` and uniform operands and operators; the same for the same seed."""
    rng = np.random.default_rng(seed)
    count = rng.integers(operands[0], operands[1] + 1, n)
    lengths = 2 * count - 1
    ends = np.cumsum(lengths)
    pos = np.arange(ends[-1] if n else 0) - np.repeat(ends - lengths, lengths)
    chars = _CODES[2 * (pos % 2) + rng.integers(0, 2, pos.size)]  # even: T/F, odd: &/|
    text = chars.tobytes().decode("ascii")
    return [text[a:b] for a, b in zip(ends - lengths, ends)]


def evaluate(text: str) -> bool:
    """The value of a well-formed expression, by the plain left-to-right loop (a reference)."""
    value = text[0] == "T"
    for op, x in zip(text[1::2], text[2::2]):
        value = (value and x == "T") if op == "&" else (value or x == "T")
    return value


def _before(a: np.ndarray, pos: np.ndarray, k: int) -> np.ndarray:
    """``a`` shifted k characters right, False where that crosses the record's start."""
    out = np.zeros_like(a)
    out[k:] = a[:-k]
    return out & (pos >= k)


def analyse(texts: list[str]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per text, the state (indices into :data:`STATES`) and running value of each character."""
    lengths = np.array([len(t) for t in texts], np.int64)
    chars = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), np.uint32)
    pos = np.arange(chars.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    x = chars == T
    operand = x | (chars == F)
    operator = (chars == AND) | (chars == OR)
    after_and = _before(chars == AND, pos, 1)
    continues = operand & _before(operator, pos, 1) & _before(operand, pos, 2)
    fixes = operand & (~continues | (after_and & ~x) | (~after_and & x))
    value = x[np.maximum.accumulate(np.where(fixes, np.arange(chars.size), 0))]
    open_op = operator & _before(operand, pos, 1)
    state = np.select([operand, open_op], [2 - value, np.where(chars == AND, 4, 6) - value], 0)
    value &= operand | open_op
    cuts = np.cumsum(lengths)[:-1]
    return np.split(state.astype(np.int8), cuts), np.split(value, cuts)


@hypothesis("grammar.boolean.state", kind="categorical", classes=STATES, batched=True)
def state(batch):
    """The left-to-right Boolean evaluator's state after the character: start (no expression
    open), an operand's running value (true/false), or a pending and/or with that value."""
    return analyse(batch["text"])[0]


@hypothesis("grammar.boolean.value", batched=True)
def value(batch):
    """The running value of the Boolean expression read so far is T (at an operator: the
    value before it; outside any expression: 0)."""
    return analyse(batch["text"])[1]


HYPOTHESES = [state, value]
