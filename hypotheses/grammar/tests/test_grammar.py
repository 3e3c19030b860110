import inspect
import json
import tokenize
from importlib.metadata import entry_points

import hyplib_grammar
import pytest
from hyplib_grammar import brackets as B
from hyplib_grammar import python as P

from hyplib import Hypothesis, as_label_array

# one letter per token_type class
CODE = {"n": "name", "k": "keyword", "N": "number", "s": "string", "c": "comment", "o": "op",
        "w": "newline", "_": "whitespace", "?": "other"}


def labels(hyp, text):
    out = as_label_array(hyp({"text": [text]})[0], hyp)
    assert len(out) == len(text)
    return out.astype(int).tolist()


def digits(*parts):
    return [int(c) for c in "".join(parts)]


def classes(*parts):
    return [P.CLASSES.index(CODE[c]) for c in "".join(parts)]


DOC = ('def f(a):\n'
       '    """Doc (x\n'
       '    # not a comment"""\n'
       '    return a  # it\'s "q"\n'
       'y = "#"\n')


def test_docstring_comments_and_strings():
    assert labels(P.token_type, DOC) == classes(
        "kkk_nonoow",
        "____ssssssssss",
        "s" * 22 + "w",
        "____kkkkkk_n__cccccccccc" "w",
        "n_o_sssw")
    assert labels(P.in_string, DOC) == digits("0" * 10, "0000" + "1" * 10, "1" * 22 + "0",
                                              "0" * 25, "00001110")
    assert labels(P.in_comment, DOC) == digits("0" * 10, "0" * 14, "0" * 23,
                                               "0" * 14 + "1" * 10 + "0", "0" * 8)
    assert labels(P.is_keyword, DOC) == digits("1110000000", "0" * 14, "0" * 23,
                                               "0000111111" + "0" * 15, "0" * 8)
    assert labels(P.bracket_depth, DOC) == digits("0000011100", "0" * 62, "0" * 8)
    assert labels(P.indent_level, DOC) == digits("0" * 10, "1" * 62, "0" * 8)


def test_automaton_on_python():
    # the automaton knows no comments: the apostrophe in "it's" opens a quote up to the newline
    assert labels(B.in_quote, DOC) == digits("0" * 10, "0000" + "1" * 10, "1" * 22 + "0",
                                             "0" * 18 + "1" * 6 + "0", "00001110")
    assert labels(B.depth, DOC) == labels(P.bracket_depth, DOC)


def test_nested_brackets_across_lines():
    text = "x = [(1,\n      {2: 3}),\n     ]\n"
    depth = digits("000012222", "222222333333211", "1111110")
    assert labels(P.bracket_depth, text) == depth
    assert labels(B.depth, text) == depth
    assert labels(P.indent_level, text) == [0] * len(text)  # continuation lines are not indented
    assert labels(P.token_type, text)[8] == P.CLASSES.index("newline")


def test_indented_block_and_dedent():
    text = "if a:\n    b = 1\n    # c\nelse:\n    pass\n"
    assert labels(P.indent_level, text) == digits("0" * 6, "1" * 10, "1" * 8, "0" * 6, "1" * 9)
    # a comment-only line keeps the level of the logical line before it
    text = "def f():\n    # c\n    pass\n"
    assert labels(P.indent_level, text) == digits("0" * 9, "0" * 8, "1" * 9)


def test_truncated_unterminated_string():
    text = 'x = 1\ns = """abc (\n  def'
    assert labels(P.in_string, text) == digits("0" * 10, "1" * 14)
    assert labels(P.bracket_depth, text) == [0] * 24
    assert labels(P.token_type, text) == classes("n_o_Nw", "n_o_", "s" * 14)
    # a prefixed one-line string cut off inside an open call
    assert labels(P.in_string, "print(rb'ab") == digits("000000", "11111")
    assert labels(P.bracket_depth, "print(rb'ab") == digits("00000", "111111")
    assert labels(P.in_string, "s = 'ab\nt = 1\n") == digits("0000111", "0", "000000")


def test_truncated_inside_brackets():
    text = "f(a,\n  [b"
    assert labels(P.bracket_depth, text) == digits("0111111", "22")
    assert labels(P.token_type, text) == classes("nonow", "__on")


def test_indented_start_then_lower_dedent():
    text = "        return x\n    y = (1)\nz\n"
    assert labels(P.indent_level, text) == digits("1" * 17, "1" * 12, "00")
    assert labels(P.is_keyword, text) == digits("0" * 8 + "111111000", "0" * 14)
    assert labels(P.bracket_depth, text) == digits("0" * 17, "00000000111" "0", "00")
    text = "    a\n        b\n  c\n    d\n"
    assert labels(P.indent_level, text) == digits("1" * 6, "2" * 10, "1" * 4, "2" * 6)


def test_unmatched_closer_at_start():
    text = "a)\nif b:\n    c\n"
    assert labels(P.bracket_depth, text) == [0] * len(text)
    assert labels(P.indent_level, text) == digits("000", "000000", "111111")


@pytest.mark.parametrize("text, quote, depth", [
    ("x = (\"(\", 'a\\'(', [1])", "0000011100111111000000", "0000" + "1" * 14 + "2221"),
    ("it's (\nok)", "0011110000", "0000000000"),
    ('"ab\ncd"', "1110001", "0000000"),
    ("'''a\n'b\n''' (", "1" * 11 + "00", "0" * 12 + "1"),
    ("'a\\\nb' c", "11111100", "00000000"),
    ("x 'ab\\", "001111", "000000"),
    (")(a))", "00000", "01110"),
    ("", "", ""),
])
def test_automaton(text, quote, depth):
    assert labels(B.in_quote, text) == digits(quote)
    assert labels(B.depth, text) == digits(depth)


def test_tokenizes_once_per_text():
    P.analyse.cache_clear()
    for hyp in P.HYPOTHESES:
        hyp({"text": [DOC]})
    assert P.analyse.cache_info().misses == 1


def test_entry_point():
    (ep,) = [e for e in entry_points(group="hyplib") if e.name == "grammar"]
    hyps = ep.load().hyplib_hypotheses()
    assert hyps and all(isinstance(h, Hypothesis) for h in hyps)
    names = [h.name for h in hyps]
    assert len(set(names)) == len(names) and all(n.startswith("grammar.") for n in names)
    assert all(h.description and h.version == "1" for h in hyps)
    sentences = ("grammar.cfg.", "grammar.agreement.")  # words of a grammar's sentences
    assert all(h.level == ("word" if h.name.startswith(sentences) else "char") for h in hyps)


@pytest.mark.parametrize("module", [json, tokenize, inspect])
def test_lengths_on_real_source(module):
    source = inspect.getsource(module)
    windows = [source] + [source[i:i + 700] for i in range(0, len(source), 1999)]
    for text in windows:
        for hyp in hyplib_grammar.hyplib_hypotheses():
            if hyp.level == "char":  # the word-level ones label sentences of a grammar
                labels(hyp, text)
