"""Shuffled labels: a hypothesis's labels permuted between the records of one data set."""
import datasets
import numpy as np
import pytest

import hyplib
from hyplib import shuffled_labels


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    texts, spans = [], []
    for i in range(n):
        words = [f"w{j}" for j in rng.integers(0, 9, rng.integers(2, 9))] + [f"r{i}"]
        starts = np.cumsum([0] + [len(w) + 1 for w in words[:-1]])
        texts.append(" ".join(words))
        spans.append([[int(s), int(s) + len(w)] for s, w in zip(starts, words)])
    return datasets.Dataset.from_dict({"text": texts, "word_spans": spans})


# a word's class is its digit mod 3 (the record's own last word: 0); a record's, its length
WORD = hyplib.Hypothesis("t.word", lambda b: [[int(t[s + 1]) % 3 if t[s] == "w" else 0
                                              for s, _ in sp]
                                             for t, sp in zip(b["text"], b["word_spans"])],
                         kind="categorical", level="word", classes=("a", "b", "c"))
LONG = hyplib.Hypothesis("t.long", lambda b: [len(sp) > 5 for sp in b["word_spans"]],
                         level="record")


def test_word_labels_move_between_records_keeping_lengths_and_frequencies():
    data = _data()
    batch = data[:]
    own = WORD(batch)
    shuffled = shuffled_labels(WORD, data, seed=1)
    got = shuffled(batch)
    assert shuffled.name == "shuffled:t.word"
    assert (shuffled.kind, shuffled.level, shuffled.classes) == (WORD.kind, "word", WORD.classes)
    assert [len(g) for g in got] == [len(o) for o in own]
    flat_own, flat_got = np.concatenate(own), np.concatenate(got)
    assert np.array_equal(np.bincount(flat_own), np.bincount(flat_got))
    assert np.mean(flat_own == flat_got) < 0.6  # the link to the words is gone (chance: 0.39)
    assert all(np.array_equal(a, b) for a, b in zip(got, shuffled(batch)))  # deterministic
    again = shuffled_labels(WORD, data, seed=2)
    assert again.version != shuffled.version
    assert any(not np.array_equal(a, b) for a, b in zip(got, again(batch)))
    part = data.select(range(10, 20))[:]  # any subset of the records: the same labels
    assert all(np.array_equal(a, b) for a, b in zip(shuffled(part), got[10:20]))


def test_record_labels_are_a_permutation_of_the_records():
    data = _data()
    batch = data[:]
    own, got = LONG(batch), shuffled_labels(LONG, data, seed=3)(batch)
    assert sorted(own) == sorted(got) and own != got
    perm = np.random.default_rng(3).permutation(len(data))
    assert got == [own[j] for j in perm]


def test_engine_reads_shuffled_labels_and_refuses_other_records():
    data = _data()
    shuffled = shuffled_labels(LONG, data)
    labels = hyplib.annotate(data, [shuffled], progress=False)[shuffled.name]
    assert labels.values.tolist() == [int(v) for v in shuffled(data[:])]
    with pytest.raises(hyplib.AnnotationError, match="labels only the 60 records it was made"):
        shuffled({"text": ["not a record"], "word_spans": [[[0, 3]]]})
    twice = datasets.concatenate_datasets([data, data.select([0])])
    with pytest.raises(ValueError, match="1 of the 61 records repeat another's 'text'"):
        shuffled_labels(LONG, twice)
    ids = twice.add_column("id", [f"s{i}" for i in range(61)])
    copies = shuffled_labels(LONG, ids, seed=3, key="id")(ids[:])
    perm = np.random.default_rng(3).permutation(61)  # the repeated text: labels of its own
    assert copies == [LONG(ids[:])[j] for j in perm]
    with pytest.raises(ValueError, match="need text records"):
        shuffled_labels(hyplib.Hypothesis("t.px", lambda b: b, level="pixel"), data)
