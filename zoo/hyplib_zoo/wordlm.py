"""A word-level LSTM language model trained on Universal Dependencies English-EWT text.

Tokens come from a regular-expression tokenizer close to UD's (contractions like "n't" and
"'s" split off, punctuation apart), so the model reads raw text and reports each token's
character span. Training is deterministic and cached by a hash of the recipe and the training
text. Layers: ``embed`` (the word embeddings), ``lstm.0``, ``lstm.1``, ``head``.
"""
from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from hyplib import Encoded, ModelRecipe, TextModel, digest, pick_device
from hyplib.study import checkpoint

RECIPE_VERSION = 1
PAD, UNK = 0, 1
TOKEN = re.compile(r"(?i)\w+(?=n't\b)|n't\b|'(?:s|re|ve|ll|d|m)\b|\w+|[^\w\s]")


def tokenize(text: str) -> tuple[list[str], np.ndarray]:
    """Lower-cased tokens and their (n, 2) character spans."""
    found = list(TOKEN.finditer(text))
    return [m.group().lower() for m in found], np.array([m.span() for m in found],
                                                        dtype=np.int64).reshape(-1, 2)


@dataclass(frozen=True)
class WordLMConfig:
    """The recipe; every field goes into the cache key."""

    hidden: int = 256
    layers: int = 2
    embed: int = 128
    epochs: int = 5
    batch: int = 32
    lr: float = 2e-3
    min_count: int = 2
    max_sentences: int | None = None
    seed: int = 0


class WordLSTM(nn.Module):
    def __init__(self, vocab: int, cfg: WordLMConfig):
        super().__init__()
        self.embed = nn.Embedding(vocab, cfg.embed, padding_idx=PAD)
        sizes = [cfg.embed] + [cfg.hidden] * cfg.layers
        self.lstm = nn.ModuleList(nn.LSTM(a, b, batch_first=True) for a, b in zip(sizes, sizes[1:]))
        self.head = nn.Linear(cfg.hidden, vocab)

    def forward(self, ids: torch.Tensor, state: list | None = None) -> torch.Tensor:
        return self.run(ids, state)[0]

    def run(self, ids: torch.Tensor, state: list | None = None) -> tuple[torch.Tensor, list]:
        """The logits and, per layer, the (h, c) after the last step, from ``state`` (per
        layer (h, c); ``None``: zeros)."""
        h, after = self.embed(ids), []
        for i, layer in enumerate(self.lstm):
            h, end = layer(h, None if state is None else state[i])
            after.append(end)
        return self.head(h), after


class WordLM(TextModel):
    """The trained model with its tokenizer and vocabulary. A long record runs in pieces cut
    at whitespace, each from the state the last ended in: the tokens, and so the behaviours,
    are those of the whole record."""

    window = "state"

    def __init__(self, name: str, module: WordLSTM, vocab: list[str], layers: tuple[str, ...]):
        super().__init__(name, module, layers)
        self.vocab = vocab
        self.index = {w: i for i, w in enumerate(vocab)}

    def ids(self, tokens: list[str]) -> list[int]:
        return [self.index.get(t, UNK) for t in tokens]

    def encode(self, texts: list[str]) -> Encoded:
        toks = [tokenize(t) for t in texts]
        width = max([len(words) for words, _ in toks] + [1])
        ids = np.full((len(texts), width), PAD, dtype=np.int64)
        spans = np.full((len(texts), width, 2), -1, dtype=np.int64)
        for i, (words, sp) in enumerate(toks):
            ids[i, :len(words)] = self.ids(words)
            spans[i, :len(words)] = sp
        return Encoded({"ids": torch.from_numpy(ids)}, spans)

    def forward_window(self, encoded: Encoded, device: torch.device, state: list | None) -> list:
        return self.module.run(encoded.inputs["ids"].to(device, non_blocking=True), state)[1]


def _vocabulary(sentences: list[list[str]], min_count: int) -> list[str]:
    counts = Counter(w for s in sentences for w in s)
    return ["<pad>", "<unk>"] + sorted(w for w, c in counts.items() if c >= min_count)


def train(texts: list[str], cfg: WordLMConfig, progress: bool = True, device: str = "cpu"
          ) -> tuple[WordLSTM, list[str], dict]:
    """Next-word prediction over sentences, deterministic (on ``device``); the model comes
    back on the CPU."""
    torch.manual_seed(cfg.seed)
    sentences = [tokenize(t)[0] for t in texts]
    vocab = _vocabulary(sentences, cfg.min_count)
    index = {w: i for i, w in enumerate(vocab)}
    model = WordLSTM(len(vocab), cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    encoded = [torch.tensor([index.get(w, UNK) for w in s]) for s in sentences if len(s) > 1]
    losses = []
    for epoch in range(cfg.epochs):
        order = torch.randperm(len(encoded), generator=gen).tolist()
        bar = tqdm(range(0, len(order), cfg.batch), desc=f"train wordlm epoch {epoch + 1}",
                   disable=not progress, unit="batch")
        for lo in bar:
            batch = nn.utils.rnn.pad_sequence([encoded[i] for i in order[lo:lo + cfg.batch]],
                                              batch_first=True, padding_value=PAD).to(device)
            logits = model(batch[:, :-1])
            loss = nn.functional.cross_entropy(logits.reshape(-1, len(vocab)),
                                               batch[:, 1:].reshape(-1), ignore_index=PAD)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
    model.eval()
    return model.cpu(), vocab, {"final_loss": float(np.mean(losses[-50:])), "vocab": len(vocab)}


def sentence_losses(lm: WordLM, texts: list[str], batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Per sentence of ``texts``: the summed cross-entropy (nats) of predicting each token from
    the ones before it, and the number of tokens predicted."""
    totals, counts = [], []
    with torch.inference_mode():
        for lo in range(0, len(texts), batch):
            ids = lm.encode(texts[lo:lo + batch]).inputs["ids"]
            logits = lm.module(ids[:, :-1])
            loss = nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:],
                                               ignore_index=PAD, reduction="none")
            totals.append(loss.double().sum(1).numpy())
            counts.append((ids[:, 1:] != PAD).sum(1).numpy())
    return np.concatenate(totals), np.concatenate(counts)


def next_word_loss(lm: WordLM, texts: list[str], batch: int = 64) -> float:
    """Mean cross-entropy (nats) of predicting each token of ``texts`` from the ones before it."""
    totals, counts = sentence_losses(lm, texts, batch)
    return float(totals.sum() / max(counts.sum(), 1))


def untrained(trained: WordLM, cfg: WordLMConfig, seed: int | None = None,
              name: str = "untrained") -> WordLM:
    """``trained``'s architecture (recipe ``cfg``) and vocabulary at a seeded initialisation:
    by default the recipe's own (its seed), the network before training."""
    torch.manual_seed(cfg.seed if seed is None else seed)
    return WordLM(name, WordLSTM(len(trained.vocab), cfg), trained.vocab, trained.default_layers)


def load(cfg: WordLMConfig | None = None, name: str = "wordlm", progress: bool = True,
         path=None, device: str = "cpu", **overrides) -> WordLM:
    """The model trained on EWT train (``path`` or ``$HYPLIB_UD_EWT``), cached (trained on
    another kind of ``device`` than the CPU: cached apart, its numbers differ)."""
    from .ud import ud_english_ewt

    cfg = dataclasses.replace(cfg or WordLMConfig(), **overrides)
    texts = ud_english_ewt("train", path=path, max_sentences=cfg.max_sentences)["text"]
    kind = torch.device(device).type

    def fresh() -> dict:
        module, vocab, record = train(texts, cfg, progress, device)
        return {"state_dict": module.state_dict(), "vocab": vocab, "record": record}

    recipe = [RECIPE_VERSION, dataclasses.asdict(cfg), digest(texts)]
    saved, file = checkpoint("wordlm", recipe + ([kind] if kind != "cpu" else []), fresh)
    vocab, record = saved["vocab"], saved["record"]
    module = WordLSTM(len(vocab), cfg)
    module.load_state_dict(saved["state_dict"])
    lm = WordLM(name, module, vocab, tuple(f"lstm.{i}" for i in range(cfg.layers)))
    lm.record, lm.config, lm.checkpoint = record, cfg, file
    return lm


TINY = WordLMConfig(hidden=32, embed=16, epochs=1, max_sentences=600)
# the encoders of Belinkov et al. and Shi et al.: 2 layers of 500 units, trained longer
PAPER = WordLMConfig(hidden=500, embed=500, epochs=20, min_count=1)
RECIPES = {
    "wordlm": ModelRecipe("wordlm", lambda **kw: load(name="wordlm", **kw),
                          "2-layer 256-unit word LSTM LM trained on UD English-EWT train"),
    "wordlm-tiny": ModelRecipe("wordlm-tiny", lambda **kw: load(TINY, name="wordlm-tiny", **kw),
                               "the wordlm recipe at a tiny size, for tests (seconds)"),
}


def study_model(ctx) -> tuple[WordLM, WordLMConfig]:
    """The word LM at a study context's scale (``quick``, ``full``, ``paper``); under the
    negative control (``ctx.control == "untrained"``) an untrained one (seed + 1, the
    recipe's vocabulary) in its place, without training the recipe."""
    cfg = {"quick": TINY, "full": WordLMConfig(), "paper": PAPER}[ctx.scale]
    if ctx.control != "untrained":
        return load(cfg, progress=ctx.progress, device=str(pick_device(ctx.device))), cfg
    from .ud import ud_english_ewt

    texts = ud_english_ewt("train", max_sentences=cfg.max_sentences)["text"]
    vocab = _vocabulary([tokenize(t)[0] for t in texts], cfg.min_count)
    torch.manual_seed(cfg.seed + 1)
    lm = WordLM("wordlm", WordLSTM(len(vocab), cfg), vocab,
                tuple(f"lstm.{i}" for i in range(cfg.layers)))
    lm.record, lm.config = {"vocab": len(vocab), "final_loss": math.nan}, cfg
    return lm, cfg


def describe(lm: WordLM, cfg: WordLMConfig, ctx, texts: list[str]) -> str:
    """The LM's size, training and perplexity on ``texts``, for a study's notes."""
    how = ("untrained (the negative control)" if ctx.control == "untrained" else
           f"{cfg.epochs} epochs, final training loss {lm.record['final_loss']:.3f}")
    return (f"model ({ctx.scale} scale): {cfg.layers} LSTM layers of {cfg.hidden} units over "
            f"embeddings of {cfg.embed}, vocabulary {len(lm.vocab)}, {how}; perplexity "
            f"{math.exp(next_word_loss(lm, texts)):.1f} on {len(texts)} EWT dev sentences")
