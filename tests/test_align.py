"""Alignment through character offsets: pieces, pooling, padding on either side."""
import numpy as np
import pytest
import torch

from hyplib.align import align, symbol_spans
from hyplib.errors import AnnotationError

PAD = [-1, -1]


def _behaviour(spans):
    """Position p of record b has behaviour 100*b + p, so gathers are easy to read."""
    b, t = spans.shape[:2]
    return (100 * torch.arange(b)[:, None] + torch.arange(t)[None, :]).float()[..., None]


# "unbelievable cats": word pieces un|believ|able, cats; record 1 is left-padded.
SPANS = np.array([
    [[0, 2], [2, 8], [8, 12], [13, 17], PAD],
    [PAD, PAD, [0, 3], [3, 4], [5, 7]],           # "cats in": cat|s, in
])
WORDS = [np.array([[0, 12], [13, 17]]), np.array([[0, 4], [5, 7]])]


@pytest.mark.parametrize("pool, want", [
    ("first", [0, 3, 102, 104]),
    ("last", [2, 3, 103, 104]),
    ("mean", [1, 3, 102.5, 104]),
])
def test_word_of_several_pieces(pool, want):
    al = align(SPANS, WORDS, pool)
    assert al.gather(_behaviour(SPANS))[:, 0].tolist() == want


def test_padding_side_does_not_matter():
    right = np.array([[[0, 3], [3, 4], [5, 7], PAD, PAD]])
    left = np.array([[PAD, PAD, [0, 3], [3, 4], [5, 7]]])
    words = [WORDS[1]]
    vals = torch.tensor([[1.0, 2, 3, 9, 9]])[..., None], torch.tensor([[9.0, 9, 1, 2, 3]])[..., None]
    for pool in ("first", "last", "mean"):
        a = align(right, words, pool).gather(vals[0])
        b = align(left, words, pool).gather(vals[1])
        assert a.tolist() == b.tolist()


def test_tokenization_that_differs_by_position():
    # the same word "cats" split differently in two records (NeuroX #40): each record's own
    # offsets decide, never the other record's
    spans = np.array([[[0, 4], [5, 7], PAD], [[0, 2], [2, 3], [3, 7]]])
    words = [np.array([[0, 4], [5, 7]]), np.array([[0, 3], [3, 7]])]
    al = align(spans, words, "mean")
    assert al.gather(_behaviour(spans))[:, 0].tolist() == [0, 1, 100.5, 102]


def test_whitespace_tokens_between_words_are_not_used():
    spans = np.array([[[0, 3], [3, 4], [4, 6]]])  # "ab", " ", "cd"... a space token
    words = [np.array([[0, 3], [4, 6]])]
    assert align(spans, words, "mean").gather(_behaviour(spans))[:, 0].tolist() == [0, 2]


def test_char_and_record_levels():
    batch = {"text": ["abc", "de"]}
    chars = symbol_spans(batch, "char")
    assert [c.tolist() for c in chars] == [[[0, 1], [1, 2], [2, 3]], [[0, 1], [1, 2]]]
    assert [r.tolist() for r in symbol_spans(batch, "record")] == [[[0, 3]], [[0, 2]]]
    with pytest.raises(AnnotationError, match="need records with a 'word_spans' column"):
        symbol_spans(batch, "word")


def test_symbol_without_position_names_record_and_offsets():
    spans = np.array([[[0, 3], PAD], [[0, 2], [2, 4]]])   # record 0 truncated after 3 chars
    words = [np.array([[0, 3], [4, 8]]), np.array([[0, 4]])]
    with pytest.raises(AnnotationError, match=r"record 41: the symbol at characters \[4, 8\) is "
                                              r"covered by no model position"):
        align(spans, words, "first", record_ids=[41, 42])
