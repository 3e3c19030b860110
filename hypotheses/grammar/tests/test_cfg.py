"""Context-free parser states: hand-derived labels, parses, the seeded sampler and the data set."""
import datasets
import nltk
import numpy as np
import pytest
from hyplib_grammar import cfg
from nltk import Tree

from hyplib import AnnotationError, HyplibError, annotate, catalog

FIELDS = ("depth", "stack", "category", "parent", "next", "predicted")
# "mary sees the dog that john likes", derived by hand from ENGLISH (its only parse):
# (S (NP (Name mary)) (VP (Vt sees) (NP (NP (Det the) (N dog)) (RC (Comp that) (NP (Name john))
#  (Vt likes)))))
RELATIVE = {
    "depth": [2, 2, 4, 4, 4, 5, 4],
    "stack": [1, 1, 2, 1, 2, 1, 0],
    "category": ["Name", "Vt", "Det", "N", "Comp", "Name", "Vt"],
    "parent": ["NP", "VP", "NP", "NP", "RC", "NP", "RC"],
    "next": ["Vt", "Det", "N", "Comp", "Name", "Vt", "<end>"],
    "predicted": ["VP", "NP", "N", "RC", "NP", "Vt", "<end>"],
}


def labels(hyps, records):
    """Each hypothesis's labels on ``records`` (a dict of columns), by its last name part."""
    return {h.name.rsplit(".", 1)[1]: h.fn(records) for h in hyps}


def test_states_of_a_simple_tree():
    tree = Tree.fromstring("(S (NP (Det the) (N dog)) (VP (Vi sleeps)))")
    states = cfg.tree_states(tree)
    assert [s.depth for s in states] == [2, 2, 2]
    assert [s.stack for s in states] == [2, 1, 0]  # after "the": N VP; after "dog": VP
    assert [s.category for s in states] == ["Det", "N", "Vi"]
    assert [s.parent for s in states] == ["NP", "NP", "VP"]
    assert [s.next for s in states] == ["N", "Vi", "<end>"]
    assert [s.predicted for s in states] == ["N", "VP", "<end>"]


def test_hypotheses_parse_records_without_trees():
    got = labels(cfg.HYPOTHESES, {"text": ["mary sees the dog that john likes"]})
    assert {k: v[0] for k, v in got.items()} == RELATIVE


def test_a_given_tree_wins_over_the_most_probable_parse():
    words = "john sees the dog in the park".split()
    # the PCFG prefers the PP on the noun (0.15 * 0.35 > 0.1 * 0.35): "in" is 4 deep, in NP
    parsed = labels(cfg.HYPOTHESES, {"text": [" ".join(words)]})
    assert parsed["depth"][0] == [2, 2, 4, 4, 4, 5, 5]
    assert parsed["parent"][0][4] == "PP" and parsed["predicted"][0][3] == "PP"
    # the derivation that attached it to the verb phrase: "in" is 3 deep
    tree = ("(S (NP (Name john)) (VP (VP (Vt sees) (NP (Det the) (N dog))) (PP (P in) "
            "(NP (Det the) (N park)))))")
    given = labels(cfg.HYPOTHESES, {"text": [" ".join(words)], "words": [words], "tree": [tree]})
    assert given["depth"][0] == [2, 3, 4, 4, 3, 4, 4]
    assert given["stack"][0] == [1, 2, 2, 1, 1, 1, 0]
    assert given["predicted"][0] == ["VP", "NP", "N", "PP", "NP", "N", "<end>"]


def test_bad_sentences_say_why():
    with pytest.raises(AnnotationError, match="'the unicorn sleeps' uses words outside the "
                                              "grammar's lexicon: 'unicorn'$"):
        cfg.Parses(cfg.ENGLISH).batch({"text": ["the unicorn sleeps"]})
    # a long text is shown shortened, with its first five unknown words
    with pytest.raises(AnnotationError, match=r"^the sentence 'def f\(x\): .{67}\.\.\.' uses "
                                              r".*lexicon: 'def', 'f\(x\):', 'return', 'x', "
                                              r"'\+' \.\.\.$"):
        cfg.Parses(cfg.ENGLISH).batch({"text": ["def f(x): return x + 1 " * 20]})
    with pytest.raises(AnnotationError, match="not in the grammar's language"):
        cfg.Parses(cfg.ENGLISH).batch({"text": ["the dog the"]})
    with pytest.raises(AnnotationError, match="differ from the record's words"):
        cfg.Parses(cfg.ENGLISH).batch({"text": ["a cat runs"], "words": [["a", "cat", "runs"]],
                                       "tree": ["(S (NP (Det the) (N dog)) (VP (Vi runs)))"]})


def test_corpus_is_seeded_capped_and_parses():
    data = cfg.corpus(cfg.ENGLISH, 400, seed=3, max_depth=6)
    assert data["text"] == cfg.corpus(cfg.ENGLISH, 400, seed=3, max_depth=6)["text"]
    assert data["text"] != cfg.corpus(cfg.ENGLISH, 400, seed=4, max_depth=6)["text"]
    trees = [Tree.fromstring(t) for t in data["tree"]]
    assert max(t.height() - 1 for t in trees) == 6  # nltk counts the words as a level
    parser = nltk.ChartParser(cfg.ENGLISH)
    for tree, text, words, spans in list(zip(trees, data["text"], data["words"],
                                             data["word_spans"]))[:20]:
        assert tree.leaves() == words == text.split()
        assert [text[a:b] for a, b in spans] == words
        assert tree in list(parser.parse(words))  # a derivation of the grammar
    with pytest.raises(HyplibError, match="raise max_depth to at least 3"):
        cfg.corpus(cfg.ENGLISH, 1, max_depth=2)


def test_sampling_follows_the_pcfg():
    trees = cfg.sample_trees(cfg.ENGLISH, 2000, seed=0, max_depth=30)
    dets = [leaf for t in trees for leaf, tag in t.pos() if tag == "Det"]
    assert dets.count("the") / len(dets) == pytest.approx(0.6, abs=0.03)
    subjects = [t[0] for t in trees]
    names = sum(len(s) == 1 and s[0].label() == "Name" for s in subjects)
    assert names / len(subjects) == pytest.approx(0.1, abs=0.02)


def test_a_plain_cfg_samples_uniformly():
    grammar = nltk.CFG.fromstring("S -> 'a' S | 'b'")
    words = [len(t.leaves()) for t in cfg.sample_trees(grammar, 3000, seed=1, max_depth=40)]
    assert np.mean(words) == pytest.approx(2.0, abs=0.1)  # geometric: 1 + 1 a on average


def test_registered_and_annotated_through_the_catalog():
    cat = catalog()
    names = [f"grammar.cfg.{f}" for f in FIELDS]
    hyps = [cat.get("hypotheses", n) for n in names]
    assert sorted(h.name for h in cat.select("hypotheses", ["grammar.cfg.*"])) == sorted(names)
    assert all(h.level == "word" for h in hyps)
    assert cat.get("hypotheses", "grammar.cfg.category").classes == cfg.state_classes(
        cfg.ENGLISH)["category"]
    data = datasets.Dataset.from_dict(cfg.records([Tree.fromstring(
        "(S (NP (Name mary)) (VP (Vt sees) (NP (NP (Det the) (N dog)) (RC (Comp that) "
        "(NP (Name john)) (Vt likes)))))")]))
    got = annotate(data, hyps, progress=False)
    for field, h in zip(FIELDS, hyps):
        want = RELATIVE[field]
        if h.kind == "categorical":
            want = [h.classes.index(v) for v in want]
        assert got[h.name].values.tolist() == want
    loaded = cat.get("datasets", "cfg-english").load(n=50, seed=2)
    assert len(loaded) == 50 and set(loaded.column_names) == {"text", "words", "word_spans",
                                                              "tree"}
