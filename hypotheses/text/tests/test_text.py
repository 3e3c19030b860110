import inspect
import json
from importlib.metadata import entry_points

import hyplib_text as T
import pytest

from hyplib import Hypothesis, as_label_array

SAMPLE = "Hi, x_2!\n\tOK é\n"


def labels(hyp, text):
    return as_label_array(hyp({"text": [text]})[0], hyp)


def bits(s):
    return [int(c) for c in s]


def test_char_class():
    names = ["upper", "lower", "punct", "space", "lower", "punct", "digit", "punct", "newline",
             "space", "upper", "upper", "space", "lower", "newline"]
    assert labels(T.char_class, SAMPLE).tolist() == [T.CLASSES.index(n) for n in names]
    assert [T.CLASSES[int(i)] for i in labels(T.char_class, "中٣€\u0301\r")] == [
        "letter", "digit", "punct", "other", "space"]


@pytest.mark.parametrize("hyp, expected", [
    (T.is_letter, "110010000011010"),
    (T.is_digit, "000000100000000"),
    (T.is_space, "000100000100100"),
    (T.is_newline, "000000001000001"),
    (T.is_upper, "100000000011000"),
    (T.is_punct, "001001010000000"),
    (T.in_word, "110011100011000"),
    (T.word_start, "100010000010000"),
    (T.word_end, "010000100001000"),
])
def test_binary(hyp, expected):
    assert labels(hyp, SAMPLE).tolist() == bits(expected)


def test_lines():
    assert labels(T.position_in_line, SAMPLE).tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8,
                                                           0, 1, 2, 3, 4, 5]
    assert labels(T.line_length, SAMPLE).tolist() == [8] * 9 + [5] * 6
    assert labels(T.position_in_line, "\n\nab").tolist() == [0, 0, 0, 1]
    assert labels(T.line_length, "\n\nab").tolist() == [0, 0, 2, 2]


def test_words_at_edges():
    assert labels(T.word_start, "a").tolist() == [1]
    assert labels(T.word_end, "a").tolist() == [1]
    assert labels(T.word_end, "ab c").tolist() == [0, 1, 0, 1]


def test_entry_point():
    (ep,) = [e for e in entry_points(group="hyplib") if e.name == "text"]
    hyps = ep.load().hyplib_hypotheses()
    assert hyps and all(isinstance(h, Hypothesis) for h in hyps)
    names = [h.name for h in hyps]
    assert len(set(names)) == len(names) and all(n.startswith("text.") for n in names)
    assert all(h.description and h.level == "char" and h.version == "1" for h in hyps)


@pytest.mark.parametrize("text", ["", inspect.getsource(json), inspect.getsource(inspect)])
def test_lengths(text):
    for hyp in T.hyplib_hypotheses():
        assert len(labels(hyp, text)) == len(text), hyp.name
