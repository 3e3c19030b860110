"""Universal Dependencies English-EWT: a CoNLL-U reader and the ``ud-english-ewt`` data source.

One record per sentence, with the columns

- ``text``: the sentence's ``# text`` comment when its words occur in it in order with only
  whitespace between them (true of every EWT sentence), else the words joined by single spaces;
- ``words`` and ``word_spans``: the syntactic words and their ``[start, end)`` character spans
  in ``text`` (the parts of a multiword token such as "didn't" = "did" + "n't" split its surface
  form); multiword-token ranges (``3-4``) and empty nodes (``8.1``) are skipped;
- ``upos``, ``xpos``, ``deprel`` (``"_"`` where the file has none), ``feats`` (the FEATS
  column as written, ``Number=Plur|Person=3``, or ``"_"``), ``head`` (1-based word index, 0
  for the root) and ``sent_id``.

The files are read from ``path``, else the folder ``$HYPLIB_UD_EWT``, else hyplib's cache,
where they are downloaded once from the UD GitHub repository at release :data:`RELEASE` and
checked against :data:`SHA256`.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterator, NoReturn
from urllib.request import urlopen

import datasets
from conllu.exceptions import ParseException
from conllu.parser import DEFAULT_FIELDS, parse_comment_line, parse_line

from hyplib import DataSource, HyplibError, atomic_path, cache_dir

RELEASE = "r2.16"
URL = ("https://raw.githubusercontent.com/UniversalDependencies/UD_English-EWT/"
       "{release}/en_ewt-ud-{split}.conllu")
SHA256 = {
    "train": "3fb78e2b55482c8ee00caa653af436c88c9e5bc9a73ce26e4ae3ddc79d2b7e7b",
    "dev": "531a54ff90d6ab12201c5a50c3e78e6ddac4de69abc4bce5d275d3cd29efe2b6",
    "test": "e266e515a0a7547657ed3d90d9ba46487d6bd251f27ad4269d4e8a427c8555cd",
}
ENV = "HYPLIB_UD_EWT"
COLUMNS = ("text", "words", "word_spans", "upos", "xpos", "feats", "head", "deprel", "sent_id")


def _fail(path: Path, line: int, message: str) -> NoReturn:
    raise HyplibError(f"{path}:{line}: {message}")


def _blocks(path: Path) -> Iterator[list[tuple[int, str]]]:
    """The non-blank lines of each sentence, with their line numbers."""
    block: list[tuple[int, str]] = []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                _fail(path, number, f"not UTF-8 ({exc.reason})")
            if line.strip():
                block.append((number, line))
            elif block:
                yield block
                block = []
    if block:
        yield block


def _sentence(path: Path, block: list[tuple[int, str]]) -> dict:
    meta: dict[str, str] = {}
    words, rows = [], []
    for number, line in block:
        if line.startswith("#"):
            meta.update(parse_comment_line(line))
            continue
        fields = line.split("\t")
        if len(fields) != 10:
            _fail(path, number, f"expected 10 tab-separated fields, found {len(fields)}: {line!r}")
        try:
            token = parse_line(line, DEFAULT_FIELDS)
        except ParseException as exc:
            _fail(path, number, str(exc))
        if not isinstance(token["id"], int):
            continue  # a multiword-token range or an empty node
        if token["id"] != len(words) + 1:
            _fail(path, number, f"word id {token['id']} out of order (expected {len(words) + 1})")
        words.append(token["form"])
        rows.append((number, token))
    if not words:
        _fail(path, block[0][0], "sentence without words")
    for number, token in rows:
        if not isinstance(token["head"], int) or not 0 <= token["head"] <= len(words):
            _fail(path, number, f"head {token['head']!r} is not 0 or a word id 1..{len(words)}")
    text = meta.get("text")
    spans = _find_words(text, words) if text else None
    if spans is None:
        text = " ".join(words)
        spans = _find_words(text, words)
    return {"text": text, "words": words, "word_spans": spans,
            "upos": [t["upos"] or "_" for _, t in rows],
            "xpos": [t["xpos"] or "_" for _, t in rows],
            "head": [t["head"] for _, t in rows],
            "deprel": [t["deprel"] or "_" for _, t in rows],
            "feats": [_feats(t["feats"]) for _, t in rows],
            "sent_id": meta.get("sent_id", "")}


def _feats(feats: dict | None) -> str:
    """CoNLL-U FEATS as written: ``Number=Plur|Person=3``, ``_`` for none."""
    return "|".join(f"{k}={v}" for k, v in feats.items()) if feats else "_"


def _find_words(text: str, words: list[str]) -> list[list[int]] | None:
    """The spans of ``words`` in ``text`` if it is just they, in order, with whitespace between."""
    spans, at = [], 0
    for word in words:
        while at < len(text) and text[at].isspace():
            at += 1
        if not text.startswith(word, at):
            return None
        spans.append([at, at + len(word)])
        at += len(word)
    return spans if not text[at:].strip() else None


def read_conllu(path: str | os.PathLike, max_sentences: int | None = None) -> dict[str, list]:
    """The sentences of a CoNLL-U file as columns (see the module doc); errors name file:line."""
    path = Path(path)
    columns: dict[str, list] = {c: [] for c in COLUMNS}
    for i, block in enumerate(_blocks(path)):
        if max_sentences is not None and i >= max_sentences:
            break
        for key, value in _sentence(path, block).items():
            columns[key].append(value)
    return columns


def conllu_path(split: str, path: str | os.PathLike | None = None) -> Path:
    """The ``en_ewt-ud-{split}.conllu`` file: in ``path`` (a file or folder), ``$HYPLIB_UD_EWT``
    or the cache, downloading it there if missing."""
    if split not in SHA256:
        raise HyplibError(f"unknown UD English-EWT split {split!r}: use one of {list(SHA256)}")
    name = f"en_ewt-ud-{split}.conllu"
    folder = path if path is not None else os.environ.get(ENV)
    if folder is not None:
        found = Path(folder) if Path(folder).is_file() else Path(folder) / name
        if not found.is_file():
            raise HyplibError(f"no UD English-EWT file {str(found)!r} (given by "
                              f"{'path' if path is not None else '$' + ENV}); it must be a "
                              f".conllu file or a folder holding {name}")
        return found
    found = cache_dir("data", f"ud-english-ewt-{RELEASE}") / name
    if not found.exists():
        download(split, found)
    return found


def download(split: str, dest: Path) -> None:
    """Download one split to ``dest``, failing (and leaving nothing) on a checksum mismatch."""
    url = URL.format(release=RELEASE, split=split)
    sha = hashlib.sha256()
    try:
        with atomic_path(dest) as tmp, urlopen(url, timeout=60) as response, \
                open(tmp, "wb") as out:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                sha.update(chunk)
                out.write(chunk)
            if sha.hexdigest() != SHA256[split]:
                raise HyplibError(f"{url} has sha256 {sha.hexdigest()}, expected "
                                  f"{SHA256[split]}; set ${ENV} to a folder holding the files")
    except OSError as exc:  # URLError included
        raise HyplibError(f"cannot download {url}: {exc}; set ${ENV} to a folder holding "
                          f"en_ewt-ud-{{train,dev,test}}.conllu") from exc


def ud_english_ewt(split: str = "dev", path: str | os.PathLike | None = None,
                   max_sentences: int | None = None) -> datasets.Dataset:
    """The sentences of one split (``train``, ``dev``, ``test``), the first ``max_sentences``."""
    return datasets.Dataset.from_dict(read_conllu(conllu_path(split, path), max_sentences))


SOURCE = DataSource("ud-english-ewt", ud_english_ewt,
                    "Universal Dependencies English Web Treebank: sentences with gold words, "
                    "POS tags and dependency trees (CC BY-SA 4.0).")
