"""Annotation throughput of the NLP hypothesis packs on UD English-EWT dev.

For each group of hypotheses it times a first ``annotate`` (labels computed and written to
hyplib's cache) and a second one (labels read back from the cache), with ``$HYPLIB_CACHE``
pointed at a fresh temporary folder. Loading spaCy and training (or reading) the NLTK tagger are
timed apart, beforehand, with the user's cache, and each hypothesis is warmed up on a few
sentences before its timed runs. Prints a Markdown table and writes
``bench/results/annotation.md``.

    HYPLIB_UD_EWT=path/to/ud-english-ewt python bench/annotation.py [--split dev]
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from hyplib_parse import gold as parse_gold
from hyplib_parse import predicted
from hyplib_pos import gold as pos_gold
from hyplib_pos import taggers
from hyplib_zoo.spacy_models import load_spacy
from hyplib_zoo.ud import ud_english_ewt

from hyplib.annotation import annotate

OUT = Path(__file__).parent / "results" / "annotation.md"
GROUPS = {
    "spaCy tagger (`pos.spacy.upos`)": [taggers.spacy_upos],
    "spaCy parser (`parse.spacy.depth`, `parse.spacy.deprel`)": predicted.HYPOTHESES,
    "NLTK perceptron (`pos.nltk.upos`)": [taggers.nltk_upos],
    "gold, for scale (`pos.upos`, `pos.xpos`, `parse.depth`, `parse.open_constituents`)":
        [pos_gold.upos, pos_gold.xpos, parse_gold.depth, parse_gold.open_constituents],
}


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="dev")
    args = parser.parse_args()
    data = ud_english_ewt(args.split)
    words = sum(len(w) for w in data["words"])
    prepare = {"load spaCy (tagger only)": lambda: load_spacy(("parser", "ner", "lemmatizer")),
               "load spaCy (tagger + parser)": load_spacy,
               "train or read the NLTK tagger": taggers.nltk_tagger}
    prepared = {name: timed(fn) for name, fn in prepare.items()}
    rows = []
    with tempfile.TemporaryDirectory(prefix="hyplib-bench-") as cache:
        os.environ["HYPLIB_CACHE"] = cache
        for name, hyps in GROUPS.items():
            for hyp in hyps:  # warm up: spaCy's first batch pays one-off costs
                hyp(data[:16])
            first = timed(lambda: annotate(data, hyps, progress=False))
            second = timed(lambda: annotate(data, hyps, progress=False))
            rows.append(f"| {name} | {first:.2f} | {words / first:,.0f} | {second:.3f} | "
                        f"{first / second:,.0f}× |")
    lines = [
        f"# Annotation throughput on UD English-EWT {args.split}",
        "",
        f"{len(data):,} sentences, {words:,} words; {platform.machine()}, {os.cpu_count()} CPUs "
        f"(load average {os.getloadavg()[0]:.1f} at the end); "
        f"`python bench/annotation.py --split {args.split}`.",
        "",
        "| hypotheses | first run (s) | words/s | cached run (s) | speed-up |",
        "| --- | ---: | ---: | ---: | ---: |",
        *rows,
        "",
        "Done once per process, before the runs: "
        + "; ".join(f"{name} {sec:.2f} s" for name, sec in prepared.items()) + ".",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)


if __name__ == "__main__":
    main()
