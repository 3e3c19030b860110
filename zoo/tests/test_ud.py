"""The UD English-EWT reader and data source; data from $HYPLIB_UD_EWT or shared/ by the repo."""
import hashlib
import io
import os
from pathlib import Path

import pytest
from hyplib_zoo import hyplib_datasets, ud

from hyplib.errors import HyplibError

UD_DIR = Path(os.environ.get("HYPLIB_UD_EWT")
              or Path(__file__).resolve().parents[2] / "shared/data/ud-english-ewt")


@pytest.fixture
def ewt(monkeypatch):
    if not (UD_DIR / "en_ewt-ud-dev.conllu").is_file():
        pytest.skip(f"UD English-EWT is not at {UD_DIR}: set HYPLIB_UD_EWT to a folder holding "
                    f"en_ewt-ud-{{train,dev,test}}.conllu")
    monkeypatch.setenv(ud.ENV, str(UD_DIR))
    return UD_DIR


def test_sentence_counts_and_exact_spans(ewt):
    for split, n in [("train", 12544), ("dev", 2001), ("test", 2077)]:
        data = ud.read_conllu(ud.conllu_path(split))
        assert len(data["text"]) == n
        for text, words, spans in zip(data["text"], data["words"], data["word_spans"]):
            assert [text[s:e] for s, e in spans] == words
        assert all(len(h) == len(w) for h, w in zip(data["head"], data["words"]))


def test_hand_checked_sentence_with_multiword_token(ewt):
    data = ud.ud_english_ewt("dev")
    sid = "weblog-blogspot.com_gettingpolitical_20030906235000_ENG_20030906_235000-0003"
    rec = data[data["sent_id"].index(sid)]
    assert rec["text"] == ("Today's incident proves that Sharon has lost his patience and his "
                           "hope in peace.")
    assert rec["words"] == ["Today", "'s", "incident", "proves", "that", "Sharon", "has", "lost",
                            "his", "patience", "and", "his", "hope", "in", "peace", "."]
    assert rec["word_spans"] == [[0, 5], [5, 7], [8, 16], [17, 23], [24, 28], [29, 35],
                                 [36, 39], [40, 44], [45, 48], [49, 57], [58, 61], [62, 65],
                                 [66, 70], [71, 73], [74, 79], [79, 80]]
    assert rec["upos"] == ["NOUN", "PART", "NOUN", "VERB", "SCONJ", "PROPN", "AUX", "VERB",
                           "PRON", "NOUN", "CCONJ", "PRON", "NOUN", "ADP", "NOUN", "PUNCT"]
    assert rec["xpos"][:4] == ["NN", "POS", "NN", "VBZ"]
    assert rec["head"] == [3, 1, 4, 0, 8, 8, 8, 4, 10, 8, 13, 13, 10, 15, 13, 4]
    assert rec["deprel"][:4] == ["nmod:poss", "case", "nsubj", "root"]


def test_data_source_registered_and_max_sentences(ewt):
    (source,) = [s for s in hyplib_datasets() if s.name == "ud-english-ewt"]
    data = source.load(split="test", max_sentences=5)
    assert len(data) == 5 and set(ud.COLUMNS) <= set(data.column_names)
    assert data[0]["sent_id"] == ud.read_conllu(ud.conllu_path("test"), 1)["sent_id"][0]


GOOD = ("# sent_id = s1\n# text = I can't.\n1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_\n"
        "2-3\tcan't\t_\t_\t_\t_\t_\t_\t_\t_\n2\tca\tcan\tAUX\tMD\t_\t0\troot\t_\t_\n"
        "3\tn't\tnot\tPART\tRB\t_\t2\tadvmod\t_\t_\n3.1\tgo\tgo\tVERB\tVB\t_\t_\t_\t2:x\t_\n"
        "4\t.\t.\tPUNCT\t.\t_\t2\tpunct\t_\t_\n\n")


def test_small_file_skips_ranges_and_empty_nodes(tmp_path):
    path = tmp_path / "a.conllu"
    path.write_text(GOOD.replace("\t3\tnsubj", "\t2\tnsubj")
                    + GOOD.replace("# text = I can't.", "# text = something else"))
    data = ud.read_conllu(path)
    assert data["words"] == [["I", "ca", "n't", "."]] * 2
    assert data["text"] == ["I can't.", "I ca n't ."]  # no matching # text: words joined
    assert data["word_spans"] == [[[0, 1], [2, 4], [4, 7], [7, 8]],
                                  [[0, 1], [2, 4], [5, 8], [9, 10]]]
    assert data["head"][0] == [2, 0, 2, 2] and data["upos"][0][1] == "AUX"


W1 = "1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_\n"
W3 = "3\tn't\tnot\tPART\tRB\t_\t2\tadvmod\t_\t_\n"


@pytest.mark.parametrize("old, new, line, message", [
    (W1, W1.replace("\t", "  "), 12, "expected 10 tab-separated fields, found 1"),
    (W1, "x" + W1[1:], 12, "'x' is not a valid ID"),
    (W1, W1.replace("\t3\t", "\tx\t"), 12, "Failed parsing field 'head'"),
    (W1, W1.replace("\t3\t", "\t9\t"), 12, "head 9 is not 0 or a word id 1..4"),
    (W3, "", 16, "word id 4 out of order (expected 3)"),
    (W1, W1.replace("I", "\udce9"), 12, "not UTF-8"),
])
def test_malformed_line_names_file_and_line(tmp_path, old, new, line, message):
    path = tmp_path / "bad.conllu"
    path.write_bytes((GOOD + GOOD.replace(old, new)).encode("utf-8", "surrogateescape"))
    # the second sentence starts at line 10
    with pytest.raises(HyplibError, match=f"^{path}:{line}: ") as err:
        ud.read_conllu(path)
    assert message in str(err.value)


def test_download_checks_the_checksum(tmp_path, monkeypatch):
    monkeypatch.delenv(ud.ENV, raising=False)
    monkeypatch.setenv("HYPLIB_CACHE", str(tmp_path))
    urls = []

    def fake_urlopen(url, timeout):
        urls.append(url)
        return io.BytesIO(GOOD.encode())

    monkeypatch.setattr(ud, "urlopen", fake_urlopen)
    with pytest.raises(HyplibError, match="has sha256 .*, expected " + ud.SHA256["dev"]):
        ud.conllu_path("dev")
    assert urls == [f"https://raw.githubusercontent.com/UniversalDependencies/UD_English-EWT/"
                    f"{ud.RELEASE}/en_ewt-ud-dev.conllu"]
    assert not list(tmp_path.rglob("*.conllu*"))  # nothing half-written is left
    monkeypatch.setitem(ud.SHA256, "dev", hashlib.sha256(GOOD.encode()).hexdigest())
    assert ud.ud_english_ewt("dev")["words"] == [["I", "ca", "n't", "."]]
    ud.ud_english_ewt("dev")  # cached: no second download
    assert len(urls) == 2


def test_bad_locations(tmp_path, monkeypatch):
    monkeypatch.setenv(ud.ENV, str(tmp_path))
    with pytest.raises(HyplibError, match="en_ewt-ud-dev.conllu.*HYPLIB_UD_EWT"):
        ud.conllu_path("dev")
    with pytest.raises(HyplibError, match="unknown UD English-EWT split 'valid'"):
        ud.conllu_path("valid")
