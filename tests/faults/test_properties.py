"""Property tests: whatever a CoNLL-U file, a data file or a hypothesis holds, the result is
either right or a hyplib error naming the problem, never a crash."""
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import hyplib
from hyplib.annotation import annotate
from hyplib.data import load_path
from hyplib.errors import AnnotationError, HyplibError

ud = pytest.importorskip("hyplib_zoo.ud")

SLOW = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

field = st.text(st.characters(blacklist_characters="\t\n\r", blacklist_categories=("Cs",)),
                min_size=0, max_size=6)
row = st.tuples(st.one_of(st.integers(-1, 6).map(str), st.just("1-2"), st.just("2.1"), field),
                field, field, st.sampled_from(["NOUN", "VERB", "_", ""]), field, field,
                st.one_of(st.integers(-1, 7).map(str), field),
                st.sampled_from(["root", "nsubj", "_"]), field, field)
line = st.one_of(row.map("\t".join), st.builds(lambda t: f"# text = {t}", field),
                 st.just("# sent_id = s1"), st.just(""), field)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(line, max_size=14))
def test_conllu_reader_reads_or_names_the_line(tmp_path, lines):
    path = tmp_path / "x.conllu"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        cols = ud.read_conllu(path)
    except HyplibError as exc:
        assert str(exc).startswith(f"{path}:")
        return
    for text, words, spans, heads in zip(cols["text"], cols["words"], cols["word_spans"],
                                         cols["head"]):
        assert [text[s:e] for s, e in spans] == words
        assert all(0 <= h <= len(words) for h in heads)


@SLOW
@given(st.lists(st.text(max_size=30), min_size=1, max_size=8))
def test_jsonl_loader_round_trips_or_errs_clearly(tmp_path_factory, texts):
    path = tmp_path_factory.mktemp("jsonl") / "d.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    try:
        data = load_path(path)
    except HyplibError as exc:
        assert str(path) in str(exc)
        return
    assert data["text"] == texts


@SLOW
@given(st.lists(st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1,
                        max_size=30).filter(str.strip), min_size=1, max_size=8))
@example(["00", "NA", "nan", "1e3", "a,b", "True"])  # text a CSV reader would make numbers
def test_text_and_csv_loaders_round_trip(tmp_path_factory, texts):
    import pandas as pd

    folder = tmp_path_factory.mktemp("txt")
    (folder / "d.txt").write_text("\n".join(texts) + "\n")
    assert load_path(folder / "d.txt")["text"] == texts
    pd.DataFrame({"text": texts}).to_csv(folder / "d.csv", index=False)
    assert [str(t) for t in load_path(folder / "d.csv")["text"]] == texts


value = st.one_of(st.booleans(), st.integers(-2, 3), st.floats(allow_nan=True),
                  st.text(max_size=2), st.none())
output = st.one_of(st.lists(value, max_size=7), value, st.lists(st.lists(value, max_size=2),
                                                                  max_size=3))


@SLOW
@given(st.lists(output, min_size=4, max_size=4), st.sampled_from(["binary", "continuous"]))
def test_any_hypothesis_output_is_labels_or_an_annotation_error(cache, outputs, kind):
    import datasets

    data = datasets.Dataset.from_dict({"text": ["ab", "", "xyz1", "q"]})
    hyp = hyplib.Hypothesis("fault.any", lambda batch: outputs, kind,
                            version=repr(outputs))
    try:
        labels = annotate(data, [hyp], progress=False)["fault.any"]
    except AnnotationError:
        return
    np.testing.assert_array_equal(labels.offsets, [0, 2, 2, 6, 7])
    assert np.isfinite(labels.values.astype(float)).all()
    if kind == "binary":
        assert set(np.unique(labels.values)) <= {0, 1}
