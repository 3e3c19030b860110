import os
from importlib.metadata import entry_points
from pathlib import Path

import datasets
import numpy as np
import pytest
from hyplib_parse import gold, predicted, trees
from hyplib_zoo.spacy_models import load_spacy

from hyplib import AnnotationError, Hypothesis, annotate, load_catalog

UD_DIR = Path(os.environ.get("HYPLIB_UD_EWT")
              or Path(__file__).resolve().parents[4] / "shared/data/ud-english-ewt")

# "Today's incident proves that Sharon has lost his patience and his hope in peace." (EWT dev)
HEAD = [3, 1, 4, 0, 8, 8, 8, 4, 10, 8, 13, 13, 10, 15, 13, 4]
DEPTH = [2, 3, 1, 0, 2, 2, 2, 1, 3, 2, 4, 4, 3, 5, 4, 1]
HEAD_DISTANCE = [2, 1, 1, 0, 3, 2, 1, 4, 1, 2, 2, 1, 3, 1, 2, 12]
OPEN = [0, 2, 1, 1, 2, 3, 4, 5, 2, 3, 2, 3, 4, 2, 3, 1]
SENT_ID = "weblog-blogspot.com_gettingpolitical_20030906235000_ENG_20030906_235000-0003"


@pytest.fixture(scope="module")
def dev():
    """EWT dev as one batch, with $HYPLIB_UD_EWT pointing at the data."""
    if not (UD_DIR / "en_ewt-ud-dev.conllu").is_file():
        pytest.skip(f"UD English-EWT is not at {UD_DIR}: set HYPLIB_UD_EWT to a folder holding "
                    f"en_ewt-ud-{{train,dev,test}}.conllu")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HYPLIB_UD_EWT", str(UD_DIR))
        from hyplib_zoo.ud import ud_english_ewt

        yield ud_english_ewt("dev")[:]


def record(dev, sent_id):
    i = dev["sent_id"].index(sent_id)
    return {k: v[i:i + 1] for k, v in dev.items()}


def test_tree_measures_by_hand():
    assert trees.depth(HEAD).tolist() == DEPTH
    assert trees.head_distance(HEAD).tolist() == HEAD_DISTANCE
    assert trees.open_arcs(HEAD).tolist() == OPEN
    # "the dog barked": the -> dog -> barked
    assert trees.depth([2, 3, 0]).tolist() == [2, 1, 0]
    assert trees.open_arcs([2, 3, 0]).tolist() == [0, 1, 1]
    # a forest of two one-word sentences, and an empty sentence
    assert trees.depth([0, 0]).tolist() == [0, 0] and trees.open_arcs([0, 0]).tolist() == [0, 0]
    assert trees.depth([]).tolist() == [] and trees.open_arcs([]).tolist() == []


@pytest.mark.parametrize("head, message", [([2, 1], "cycle"), ([3, 0], "word index 1..2")])
def test_bad_trees(head, message):
    with pytest.raises(ValueError, match=message):
        trees.depth(head)


def test_gold_on_a_hand_checked_sentence(dev):
    rec = record(dev, SENT_ID)
    assert rec["head"] == [HEAD]
    assert [list(v) for v in gold.depth(rec)] == [DEPTH]
    assert gold.depth_bin(rec) == [[str(d) if d < 3 else "3+" for d in DEPTH]]
    assert [list(v) for v in gold.head_distance(rec)] == [HEAD_DISTANCE]
    assert [list(v) for v in gold.open_constituents(rec)] == [OPEN]
    assert gold.deprel(rec) == [["nmod", "case", "nsubj", "root", "mark", "nsubj", "aux",
                                 "ccomp", "nmod", "obj", "cc", "nmod", "conj", "case", "nmod",
                                 "punct"]]
    assert gold.sentence_length(rec) == [16] and gold.sentence_depth(rec) == [5]
    assert gold.sentence_voice(rec) == ["active"] and gold.sentence_tense(rec) == ["present"]


def test_gold_matches_the_file(dev):
    rows = [[]]
    for line in (UD_DIR / "en_ewt-ud-dev.conllu").read_text(encoding="utf-8").splitlines():
        if not line and rows[-1]:
            rows.append([])
        elif line and not line.startswith("#") and line.split("\t")[0].isdigit():
            rows[-1].append(line.split("\t"))
    rows = [r for r in rows if r]
    assert len(rows) == len(dev["head"])
    assert dev["head"] == [[int(f[6]) for f in r] for r in rows]
    assert gold.deprel(dev) == [[f[7].split(":")[0] for f in r] for r in rows]
    labels = annotate(datasets.Dataset.from_dict(dev), gold.HYPOTHESES, progress=False)
    assert labels["parse.sentence.length"].values.tolist() == [len(r) for r in rows]
    passive = [any(f[7] in ("nsubj:pass", "csubj:pass", "aux:pass") for f in r) for r in rows]
    assert labels["parse.sentence.voice"].values.tolist() == passive
    depth = labels["parse.depth"].values
    bins = labels["parse.depth_bin"].values
    assert np.array_equal(bins, np.minimum(depth, 3))  # class index = depth, 3 for 3 and deeper
    assert labels["parse.sentence.depth"].values.tolist() == [
        depth[a:b].max() for a, b in zip(labels["parse.depth"].offsets[:-1],
                                         labels["parse.depth"].offsets[1:])]


@pytest.mark.parametrize("words, head, deprel, xpos, voice, tense", [
    ("The cake was eaten .", [2, 4, 4, 0, 4], ["det", "nsubj:pass", "aux:pass", "root", "punct"],
     ["DT", "NN", "VBD", "VBN", "."], "passive", "past"),
    ("He has gone", [3, 3, 0], ["nsubj", "aux", "root"], ["PRP", "VBZ", "VBN"], "active",
     "present"),
    ("He was happy", [3, 3, 0], ["nsubj", "cop", "root"], ["PRP", "VBD", "JJ"], "active", "past"),
    ("You should go", [3, 3, 0], ["nsubj", "aux", "root"], ["PRP", "MD", "VB"], "active", "other"),
    ("Go home", [0, 1], ["root", "advmod"], ["VB", "RB"], "active", "other"),
    ("I said it was", [2, 0, 4, 2], ["nsubj", "root", "nsubj", "ccomp"],
     ["PRP", "VBD", "PRP", "VBD"], "active", "past"),
])
def test_voice_and_tense(words, head, deprel, xpos, voice, tense):
    batch = {"head": [head], "deprel": [deprel], "xpos": [xpos]}
    assert gold.sentence_voice(batch) == [voice] and gold.sentence_tense(batch) == [tense]


def test_gold_without_gold_columns(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPLIB_CACHE", str(tmp_path))
    data = datasets.Dataset.from_dict({"text": ["a cat"], "word_spans": [[[0, 1], [2, 5]]]})
    with pytest.raises(AnnotationError, match="the data has no 'head' column"):
        annotate(data, [gold.depth], progress=False)
    with pytest.raises(AnnotationError, match="the data has no 'xpos' column"):
        gold.sentence_tense({"head": [[0]], "deprel": [["root"]]})


def test_spacy_parse_of_the_record_words(dev):
    assert set(predicted.LABELS) == set(load_spacy().get_pipe("parser").labels)
    rec = record(dev, SENT_ID)
    (depth,) = predicted.spacy_depth(rec)
    (labels,) = predicted.spacy_deprel(rec)
    assert len(depth) == len(labels) == 16  # spaCy parsed the 16 UD words, "'s" included
    assert labels[3] == "ROOT" and depth[3] == 0 and labels[2] == "nsubj"
    # the schemes differ (spaCy heads prepositional phrases by the preposition, UD by the noun)
    ours, ud = np.concatenate(predicted.spacy_depth(dev)), np.concatenate(gold.depth(dev))
    r = float(np.corrcoef(ours, ud)[0, 1])
    print(f"spaCy vs UD depth on EWT dev words: r = {r:.3f}, equal for {np.mean(ours == ud):.3f}")
    assert r > 0.6


def test_entry_point():
    (ep,) = [e for e in entry_points(group="hyplib") if e.name == "parse"]
    hyps = {h.name: h for h in ep.load().hyplib_hypotheses()}
    assert all(isinstance(h, Hypothesis) and h.description for h in hyps.values())
    kinds = {name: (h.kind, h.level) for name, h in hyps.items()}
    assert kinds == {
        "parse.depth": ("continuous", "word"), "parse.depth_bin": ("categorical", "word"),
        "parse.head_distance": ("continuous", "word"),
        "parse.deprel": ("categorical", "word"),
        "parse.open_constituents": ("continuous", "word"),
        "parse.sentence.length": ("continuous", "record"),
        "parse.sentence.depth": ("continuous", "record"),
        "parse.sentence.voice": ("categorical", "record"),
        "parse.sentence.tense": ("categorical", "record"),
        "parse.spacy.depth": ("continuous", "word"),
        "parse.spacy.deprel": ("categorical", "word")}
    assert len(hyps["parse.deprel"].classes) == 37


def test_registration(monkeypatch):
    monkeypatch.setenv("HYPLIB_PLUGINS", "parse")
    catalog = load_catalog()
    assert not catalog.errors
    assert catalog.get("hypotheses", "parse.open_constituents") is gold.open_constituents
