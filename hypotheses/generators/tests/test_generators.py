"""The generators: names, floors and caps, labels against direct computations, caching."""
import datasets
import numpy as np
import pytest

import hyplib
import hyplib.annotation
from hyplib import HyplibError, annotate, generate
from hyplib.testing import ud_ewt_or_skip

TEXTS = ["the cat sat on the mat.", "The dog ate 42 bones, then 7 more!",
         "def f(x):\n    return x + 0x1F  # hex", "the end of the story; the end."]


@pytest.fixture
def text():
    return datasets.Dataset.from_dict({"text": TEXTS})


def _labels(data, hyps):
    got = annotate(data, hyps, progress=False)
    return {h.name: [got[h.name].take(np.array([i])) for i in range(len(data))] for h in hyps}


def _made(data, name, **kw):
    return generate(data, [name], **kw)[name]


def test_characters_most_frequent_first_with_floor_and_cap(text):
    hyps = _made(text, "chars", cap=4, min_count=5)
    counts = {c: sum(t.count(c) for t in TEXTS) for c in set("".join(TEXTS))}
    want = sorted((c for c in counts if counts[c] >= 5), key=lambda c: (-counts[c], c))[:4]
    assert [h.name for h in hyps] == [f"auto.char.{c if c != ' ' else 'U+0020'}" for c in want]
    labels = _labels(text, hyps)
    for h, c in zip(hyps, want):
        for t, got in zip(TEXTS, labels[h.name]):
            np.testing.assert_array_equal(got, [ch == c for ch in t])
    assert all(h.level == "char" and h.kind == "binary" and h.version == "gen1" for h in hyps)


def test_tokens_ngrams_and_regex_label_the_characters_of_their_matches(text):
    tokens = {h.name: h for h in _made(text, "tokens", cap=50, min_count=2)}
    assert list(tokens)[:2] == ["auto.token.the", "auto.token.."]
    assert "auto.token.cat" not in tokens  # once only: under the floor
    grams = {h.name: h for h in _made(text, "ngrams", cap=500, min_count=3)}
    assert "auto.ngram.he" in grams and "auto.ngram.the" in grams
    rx = {h.name: h for h in _made(text, "regex", cap=50, min_count=1)}
    assert {"auto.regex.number", "auto.regex.hex", "auto.regex.hash_comment"} <= set(rx)
    chosen = [tokens["auto.token.the"], grams["auto.ngram.he"], rx["auto.regex.number"]]
    got = _labels(text, chosen)
    t = TEXTS[1]  # "The dog ate 42 bones, then 7 more!"
    mark = lambda *spans: [any(a <= i < b for a, b in spans) for i in range(len(t))]  # noqa: E731
    np.testing.assert_array_equal(got["auto.token.the"][1], mark())  # case-sensitive: "The" is not
    np.testing.assert_array_equal(got["auto.ngram.he"][1], mark((1, 3), (23, 25)))
    np.testing.assert_array_equal(got["auto.regex.number"][1], mark((12, 14), (27, 28)))


def test_names_are_deterministic_and_labels_cached(text, monkeypatch):
    first = generate(text, ["chars", "tokens"], min_count=2)
    again = generate(text, ["chars", "tokens"], min_count=2)
    assert [h.name for hs in first.values() for h in hs] == [
        h.name for hs in again.values() for h in hs]
    hyps = first["tokens"]
    annotate(text, hyps, progress=False)
    monkeypatch.setattr(hyplib.annotation, "_label_batch",
                        lambda *a: pytest.fail("recomputed"))
    annotate(text, again["tokens"], progress=False)  # same names and versions: from the cache


def test_character_classes(text):
    hyps = {h.name: h for h in _made(text, "charclass", min_count=1)}
    assert {"auto.charclass.Ll", "auto.charclass.Lu", "auto.charclass.Nd",
            "auto.charclass.Zs", "auto.charclass.Cc"} <= set(hyps)
    got = _labels(text, [hyps["auto.charclass.Lu"]])["auto.charclass.Lu"]
    np.testing.assert_array_equal(got[1], [c.isupper() for c in TEXTS[1]])


def test_word_level_tokens_feats_and_tags_on_ud_ewt():
    from hyplib_zoo.ud import ud_english_ewt

    data = ud_english_ewt("dev", path=ud_ewt_or_skip()).select(range(300))
    made = generate(data, ["tokens", "feats", "ud"], cap=30, min_count=10)
    feats = {h.name: h for h in made["feats"]}
    assert "auto.feats.Number=Plur" in feats and "auto.feats.Tense=Past" in feats
    assert all(h.level == "word" for hs in made.values() for h in hs)
    assert "auto.upos.NOUN" in {h.name for h in made["ud"]}
    assert "auto.deprel.nsubj" in {h.name for h in made["ud"]}
    plural = _labels(data, [feats["auto.feats.Number=Plur"]])["auto.feats.Number=Plur"]
    for f, got in zip(data["feats"][:50], plural[:50]):
        np.testing.assert_array_equal(got, ["Number=Plur" in w.split("|") for w in f])
    the = next(h for h in made["tokens"] if h.name == "auto.token.the")
    got = _labels(data, [the])["auto.token.the"]
    np.testing.assert_array_equal(np.concatenate(got), [w == "the" for ws in data["words"]
                                                        for w in ws])


def test_one_hypothesis_per_grammar_production():
    trees = ["(S (NP (Det the) (N dog)) (VP (V saw) (NP (Det a) (N cat))))",
             "(S (NP (Det a) (N cat)) (VP (V ran)))"] * 3
    words = [["the", "dog", "saw", "a", "cat"], ["a", "cat", "ran"]] * 3
    spans = [[[i * 4, i * 4 + 3] for i in range(len(w))] for w in words]
    data = datasets.Dataset.from_dict({"text": [" ".join(w) for w in words], "words": words,
                                       "word_spans": spans, "tree": trees})
    hyps = {h.name: h for h in _made(data, "grammar", min_count=3)}
    assert set(hyps) == {"auto.rule.S=NP+VP", "auto.rule.NP=Det+N", "auto.rule.VP=V+NP",
                         "auto.rule.VP=V"}
    got = _labels(data, [hyps["auto.rule.VP=V+NP"], hyps["auto.rule.NP=Det+N"]])
    np.testing.assert_array_equal(got["auto.rule.VP=V+NP"][0], [0, 0, 1, 1, 1])
    np.testing.assert_array_equal(got["auto.rule.NP=Det+N"][1], [1, 1, 0])
    only = generate(data, ["grammar"], min_count=1, options={"grammar": {
        "grammar": "S -> NP VP\nNP -> Det N\nDet -> 'a'"}})["grammar"]
    assert [h.name for h in only] == ["auto.rule.S=NP+VP", "auto.rule.NP=Det+N"]


def test_one_hypothesis_per_concept_of_a_label_map():
    maps = [np.array([[0, 1], [2, 2]]), np.array([[2, 2], [2, 1]])] * 5
    data = datasets.Dataset.from_dict({"mask": [m.tolist() for m in maps],
                                       "height": [2] * 10, "width": [2] * 10})
    parent = hyplib.hypothesis("t.map", kind="categorical", level="pixel", field="mask",
                               classes=("-", "sky", "tree"))(lambda m: np.array(m))
    made = generate(data, ["concepts"], min_count=5,
                    options={"concepts": {"hypothesis": parent}})["concepts"]
    assert [h.name for h in made] == ["auto.concept.tree", "auto.concept.sky"]
    got = _labels(data, made)
    np.testing.assert_array_equal(got["auto.concept.sky"][0], [0, 1, 0, 0])


def test_errors_name_the_generator_and_the_fix(text):
    with pytest.raises(HyplibError, match=r"generator 'grammar' reads the field\(s\) "
                                          r"\['tree', 'word_spans'\], which the data lack"):
        generate(text, ["grammar"])
    with pytest.raises(HyplibError, match=r"generator 'concepts' needs the option\(s\) "
                                          r"\['hypothesis'\], e.g. --generator-arg "
                                          r"concepts.hypothesis="):
        generate(text, ["concepts"])
    assert "concepts" not in generate(text, ["*"], min_count=1)  # a glob skips what cannot run
    with pytest.raises(HyplibError, match=r"options given for generator\(s\) \['ngram'\]"):
        generate(text, ["ngrams"], options={"ngram": {"n": (4,)}})
