"""The python-stdlib data set: self-contained chunks of real source."""
import io
import tokenize

import pytest
from hyplib_zoo.stdlib import python_stdlib, source_chunks, stdlib_files

from hyplib import load_path
from hyplib.errors import HyplibError

SOURCE = '''import os


@decorator
class A:
    """Doc."""

    def f(self):
        x = [1,
             2]
        return x

    # a comment about g
    def g(self):
        if True:
            s = """multi
line"""
        return s


def h():
    pass
'''


def test_chunks_are_whole_statements_of_one_block():
    assert [(line, text) for line, text in source_chunks(SOURCE, 1000)] == [(1, SOURCE)]
    small = list(source_chunks(SOURCE, 110))
    # the class is too long: its body is cut into runs of its statements (its header is left
    # out); a comment after a statement goes with that statement
    assert [line for line, _ in small] == [1, 6, 14, 21]
    assert small[1][1].startswith('    """Doc."""\n\n    def f(self):')
    assert small[1][1].endswith("return x\n\n    # a comment about g\n")
    assert small[2][1].startswith("    def g(self):") and small[3][1] == "def h():\n    pass\n"
    for _, text in small:
        assert len(text) <= 110
        list(tokenize.generate_tokens(io.StringIO(text).readline))


def test_train_and_test_splits_are_disjoint_and_stable():
    train, test = set(stdlib_files("train")), set(stdlib_files("test"))
    assert train and test and not train & test
    assert train | test == set(stdlib_files("all"))
    assert all("test" not in p.parts[:-1] for p in train)


def test_stdlib_records_tokenize_on_their_own():
    ds = python_stdlib(max_files=15, max_chars=512)
    assert len(ds) > 20 and set(ds.column_names) == {"text", "source", "line"}
    for text in ds["text"]:
        assert 0 < len(text) <= 512
        list(tokenize.generate_tokens(io.StringIO(text).readline))
    assert python_stdlib(max_files=15, max_chars=512)._fingerprint == ds._fingerprint


def test_load_path(tmp_path):
    (tmp_path / "d.jsonl").write_text('{"text": "a = 1"}\n{"text": "b = 2"}\n')
    assert load_path(tmp_path / "d.jsonl")["text"] == ["a = 1", "b = 2"]
    with pytest.raises(HyplibError, match="cannot read data from .*nope.xlsx"):
        load_path(tmp_path / "nope.xlsx")
