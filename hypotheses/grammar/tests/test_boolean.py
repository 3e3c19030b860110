"""The left-to-right Boolean-expression automaton: states, values, generator."""
import re

import pytest
from hyplib_grammar import boolean as B

from hyplib import as_label_array, catalog


def labels(hyp, text):
    out = as_label_array(hyp({"text": [text]})[0], hyp)
    assert len(out) == len(text)
    return out.astype(int).tolist()


def states(*names):
    return [B.STATES.index(n) for n in names]


@pytest.mark.parametrize("text, expected, value", [
    ("T&F|T", ("true", "and_true", "false", "or_false", "true"), "11001"),
    ("F|T&F&T", ("false", "or_false", "true", "and_true", "false", "and_false", "false"),
     "0011000"),
    ("T|F&F", ("true", "or_true", "true", "and_true", "false"), "11110"),
    ("F&T|T", ("false", "and_false", "false", "or_false", "true"), "00001"),
    ("T", ("true",), "1"),
    ("F&", ("false", "and_false"), "00"),  # a prefix: ends after an operator
    ("", (), ""),
])
def test_hand_derived_states_and_values(text, expected, value):
    assert labels(B.state, text) == states(*expected)
    assert labels(B.value, text) == [int(v) for v in value]


def test_left_to_right_not_precedence():
    # (T | F) & F = F, where & binding tighter would give T | (F & F) = T
    assert B.evaluate("T|F&F") is False
    assert labels(B.value, "T|F&F")[-1] == 0


def test_records_in_one_batch_do_not_leak():
    texts = ["T&", "F", "T|", "T&F|T", "F&"]
    together = B.analyse(texts)
    for i, text in enumerate(texts):
        alone = B.analyse([text])
        assert together[0][i].tolist() == alone[0][0].tolist()
        assert together[1][i].tolist() == alone[1][0].tolist()


def test_generated_expressions_match_the_plain_evaluator():
    texts = B.expressions(500, seed=1, operands=(1, 12))
    state, value = B.analyse(texts)
    for text, s, v in zip(texts, state, value):
        assert v.tolist() == [B.evaluate(text[:i + 1 - i % 2]) for i in range(len(text))]
        ops = [B.STATES.index(f"{'and' if c == '&' else 'or'}_{'true' if x else 'false'}")
               for c, x in zip(text[1::2], v[1::2])]
        assert s[1::2].tolist() == ops
        assert s[::2].tolist() == states(*("true" if x else "false" for x in v[::2]))


def test_generator_is_seeded_and_well_formed():
    texts = B.expressions(300, seed=7, operands=(2, 5))
    assert texts == B.expressions(300, seed=7, operands=(2, 5))
    assert texts != B.expressions(300, seed=8, operands=(2, 5))
    assert all(re.fullmatch(r"[TF]([&|][TF])*", t) for t in texts)
    assert {(len(t) + 1) // 2 for t in texts} == {2, 3, 4, 5}
    assert set("".join(texts)) == set("TF&|")
    assert B.expressions(0) == []


@pytest.mark.parametrize("text, expected, value", [
    ("x T&F", ("start", "start", "true", "and_true", "false"), "00110"),
    ("TT", ("true", "true"), "11"),  # an operand after an operand starts a new expression
    ("T&&F", ("true", "and_true", "start", "false"), "1100"),
    ("&|T", ("start", "start", "true"), "001"),
    ("T| F", ("true", "or_true", "start", "false"), "1100"),
    ("if True:", ("start",) * 3 + ("true",) + ("start",) * 4, "00010000"),
])
def test_any_text_outside_expressions_is_start(text, expected, value):
    assert labels(B.state, text) == states(*expected)
    assert labels(B.value, text) == [int(v) for v in value]


def test_registered():
    cat = catalog()
    state = cat.get("hypotheses", "grammar.boolean.state")
    assert state.kind == "categorical" and state.classes == B.STATES
    assert cat.get("hypotheses", "grammar.boolean.value").kind == "binary"
