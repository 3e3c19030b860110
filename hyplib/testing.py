"""Testing aids for hyplib and for pack authors: a planted model with known units, the coverage
of early-stopped intervals, running a study's quick mode through the CLI, and the merge
contract every inspector must meet."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .models import Encoded, TextModel, char_spans
from .scale.states import fork, receive, settled, ship
from .types import Scores

DIGIT_UNIT, UPPER_UNIT, N_UNITS = 3, 7, 12


class Planted(nn.Module):
    """Unit 3 = is-digit, unit 7 = is-upper-case, each plus pseudo-noise; the rest pseudo-noise.

    The noise is a fixed function of (character, position), so a symbol's behaviour does not
    depend on how the batch was padded; padding positions output 1e6 to prove they are unused.
    """

    def __init__(self, noise: float = 0.5):
        super().__init__()
        # a buffer, so that the behaviour cache's model fingerprint tells noise levels apart
        self.register_buffer("noise", torch.tensor([float(noise)], dtype=torch.float64))
        self.features = nn.Identity()

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        kw = {"dtype": torch.float64, "device": codes.device}
        pos = torch.arange(codes.shape[1], **kw)[None, :, None]
        unit = torch.arange(N_UNITS, **kw)
        c = codes.double()[..., None]
        noise = torch.frac(torch.sin(c * 12.9898 + pos * 78.233 + unit * 37.719) * 43758.5453)
        out = self.noise * (noise - 0.5) * 3.4
        out[..., DIGIT_UNIT] += ((codes >= 48) & (codes <= 57)).double()
        out[..., UPPER_UNIT] += ((codes >= 65) & (codes <= 90)).double()
        out = torch.where((codes < 0)[..., None], torch.full_like(out, 1e6), out)
        return self.features(out.float())


class PlantedModel(TextModel):
    """A character model over :class:`Planted`: its layer ``features`` has the planted units."""

    def __init__(self, noise: float = 0.5, name: str = "planted"):
        super().__init__(name, Planted(noise), ("features",))

    def encode(self, texts):
        lengths = np.array([len(t) for t in texts])
        codes = np.full((len(texts), max(lengths.max(), 1)), -1, dtype=np.int64)
        for i, t in enumerate(texts):
            codes[i, :len(t)] = np.frombuffer(t.encode("utf-32-le"), dtype=np.uint32)
        return Encoded({"codes": torch.from_numpy(codes)}, char_spans(lengths, codes.shape[1]))


def install_packs(root: Path, packs: dict[str, tuple[str, str]]) -> Path:
    """pip-install throwaway packs into ``root/site``: each ``dist: (entry-point name, module
    code)`` becomes a distribution ``dist`` (version 0.0.1) whose module ``dist`` is its
    ``hyplib`` entry point. Put the returned folder on ``PYTHONPATH`` to use them."""
    import textwrap

    target = root / "site"
    sources = []
    for dist, (entry, code) in packs.items():
        src = root / dist
        (src / dist).mkdir(parents=True)
        (src / dist / "__init__.py").write_text(textwrap.dedent(code))
        (src / "pyproject.toml").write_text(
            f'[build-system]\nrequires = ["setuptools>=61"]\n'
            f'build-backend = "setuptools.build_meta"\n[project]\nname = "{dist}"\n'
            f'version = "0.0.1"\n[project.entry-points.hyplib]\n{entry} = "{dist}"\n')
        sources.append(str(src))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--target", str(target), *sources],
                   check=True, capture_output=True)
    return target


class SparsePlanted(nn.Module):
    """``n_units`` units of independent standard-normal noise (drawn afresh on every call from
    a seeded generator); unit ``u`` of ``planted`` adds ``strength`` where the character is
    ``planted[u]``. Every other unit is independent of the input: a true null."""

    def __init__(self, n_units: int, planted: dict[int, str], strength: float = 1.0,
                 seed: int = 0):
        super().__init__()
        self.n_units, self.strength = n_units, strength
        self.units = torch.tensor(list(planted), dtype=torch.long)
        self.chars = torch.tensor([ord(c) for c in planted.values()], dtype=torch.long)
        self.gen = torch.Generator().manual_seed(seed)
        self.features = nn.Identity()

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        out = torch.randn(*codes.shape, self.n_units, generator=self.gen)
        out[..., self.units] += self.strength * (codes[..., None] == self.chars).float()
        return self.features(out.to(codes.device))


class SparsePlantedModel(PlantedModel):
    """A character model over :class:`SparsePlanted` (layer ``features``)."""

    def __init__(self, n_units: int, planted: dict[int, str], strength: float = 1.0,
                 seed: int = 0, name: str = "sparse"):
        TextModel.__init__(self, name, SparsePlanted(n_units, planted, strength, seed),
                           ("features",))


def byte_level_bpe(texts, vocab: int = 500):
    """A byte-level BPE trained here, offline, on ``texts`` (offsets keep the leading space, as
    SmolLM2's do), wrapping each text in <s> ... </s>: a fast tokenizer for tests of Hugging
    Face models."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=vocab, special_tokens=["<s>", "</s>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 0),
                                                                           ("</s>", 1)])])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                   pad_token="<pad>")


def random_texts(n: int, length: int, seed: int = 7):
    """A data set of ``n`` texts of ``length`` characters drawn uniformly from letters of both
    cases, digits and some punctuation."""
    import datasets

    rng = np.random.default_rng(seed)
    alphabet = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.()"))
    return datasets.Dataset.from_dict(
        {"text": ["".join(rng.choice(alphabet, size=length)) for _ in range(n)]})


def stopping_coverage(model, data, hypotheses, seeds, **kw):
    """Early-stopped runs (one per seed, ``inspect(..., seed=s, **kw)``) against the full-data
    scores: per run, the share of the records read and of the scores whose stop-time interval
    holds the full-data score, and the largest move of a score (a pandas table)."""
    import pandas as pd

    from .engine import inspect

    args = {k: v for k, v in kw.items() if k not in ("tolerance", "top_k")}
    full = inspect(model, data, hypotheses, progress=False, **args).table
    rows = []
    for seed in seeds:
        early = inspect(model, data, hypotheses, seed=seed, progress=False, **kw)
        t = early.table
        inside = (t["ci_low"] <= full["score"]) & (full["score"] <= t["ci_high"])
        rows.append({"seed": seed, "read": early.meta["records"] / len(data),
                     "stopped": early.meta["stopped"].startswith("converged"),
                     "covered": inside.mean(), "max_move": (t["score"] - full["score"]).abs().max()})
    return pd.DataFrame(rows)


def ud_ewt_or_skip() -> Path:
    """The UD English-EWT folder named by ``$HYPLIB_UD_EWT``; skips the test when it is absent."""
    import pytest

    path = Path(os.environ.get("HYPLIB_UD_EWT") or "")
    if not (path / "en_ewt-ud-dev.conllu").is_file():
        pytest.skip("UD English-EWT is not here: set HYPLIB_UD_EWT to a folder holding "
                    "en_ewt-ud-{train,dev,test}.conllu")
    return path


def quick_study(name: str, out: Path, *args: str, control: str | None = None
                ) -> tuple[dict, Path, str]:
    """Run ``hyplib repro NAME --quick`` (with ``--control CONTROL`` if given) as a user would
    (a CLI subprocess, on the CPU); return its ``claims.json`` record, its report folder and
    what it printed. Fails with the command's error output when it fails."""
    more = ["--control", control] if control else []
    run = subprocess.run([sys.executable, "-m", "hyplib.cli", "repro", name, "--quick", "--out",
                          str(out), "--quiet", "--device", "cpu", *more, *args],
                         capture_output=True, text=True)
    assert run.returncode == 0, f"hyplib repro {name} --quick failed:\n{run.stderr[-4000:]}"
    folder = Path(out) / (name + (f".control-{control}" if control else ""))
    return json.loads((folder / "claims.json").read_text()), folder, run.stdout


def sharded(make, x: torch.Tensor, y: torch.Tensor, cuts, batch: int = 97, parallel: int = 2):
    """``(merged, whole)``: inspectors from ``make()`` over the rows ``x``, ``y`` (symbols ×
    units, symbols × columns), ``whole`` updated on all rows in one pass, ``merged`` built as
    :mod:`hyplib.scale` builds it. The rows are cut at ``cuts`` into parts; the first part
    runs from a fresh inspector, each later one from a fork of the merged state at its
    offset; while that state is not ``settled`` the parts go one at a time, then
    ``parallel`` at once from the same state; every fork and part travels as a state dict
    (:func:`~hyplib.scale.states.ship`), and parts merge back in stream order."""
    bounds = [0, *sorted(set(int(c) for c in cuts if 0 < c < len(x))), len(x)]
    parts = list(zip(bounds[:-1], bounds[1:]))
    whole = _fed(make(), x, y, 0, len(x), batch)
    merged = receive(make, ship(_fed(make(), x, y, *parts[0], batch)))
    i = 1
    while i < len(parts):
        width = parallel if settled(merged) else 1
        done = [_fed(receive(make, ship(fork(merged, make, lo))), x, y, lo, hi, batch)
                for lo, hi in parts[i:i + width]]
        for part in done:
            merged.merge(receive(make, ship(part)))
        i += width
    return merged, whole


def _fed(inspector, x, y, lo, hi, batch):
    for i in range(lo, hi, batch):
        inspector.update(x[i:min(i + batch, hi)], y[i:min(i + batch, hi)])
    return inspector


def check_merge(make, x: torch.Tensor, y: torch.Tensor, cuts, rtol: float = 1e-9,
                atol: float = 1e-9, **kw) -> tuple:
    """Assert that an inspector merged from shards (:func:`sharded`) scores as one pass over
    all rows: every metric's score, interval and ``n``, to ``rtol``/``atol``. Returns
    ``(merged, whole)`` for further checks."""
    merged, whole = sharded(make, x, y, cuts, **kw)
    assert_scores_close(merged.scores(), whole.scores(), rtol, atol)
    return merged, whole


def assert_scores_close(got, want, rtol: float = 1e-9, atol: float = 1e-9) -> None:
    """Every metric of ``got`` equals ``want``'s (score, interval, n), NaN where it is NaN."""
    got, want = ([s] if isinstance(s, Scores) else s for s in (got, want))
    assert [s.metric for s in got] == [s.metric for s in want]
    for a, b in zip(got, want):
        for field in ("score", "low", "high", "n"):
            torch.testing.assert_close(torch.as_tensor(getattr(a, field)).double(),
                                       torch.as_tensor(getattr(b, field)).double(),
                                       rtol=rtol, atol=atol, equal_nan=True,
                                       msg=lambda m: f"{a.metric} {field}: {m}")
def held_on_control(name: str, out: Path, control: str = "untrained") -> list[str]:
    """The claims of study ``name`` that hold on its negative ``control`` at the quick size
    (each such claim is a defect of the claim; "not applicable", an undefined figure, fails)."""
    record, _, _ = quick_study(name, out, control=control)
    assert record["control"] == control and record["claims"]
    return [c["id"] for c in record["claims"] if c["verdict"] == "held"]
