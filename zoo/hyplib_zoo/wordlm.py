"""A word-level LSTM language model trained on Universal Dependencies English-EWT text.

Tokens come from a regular-expression tokenizer close to UD's (contractions like "n't" and
"'s" split off, punctuation apart), so the model reads raw text and reports each token's
character span. Training is deterministic and cached by a hash of the recipe and the training
text. Layers: ``embed`` (the word embeddings), ``lstm.0``, ``lstm.1``, ``head``.
"""
from __future__ import annotations

import dataclasses
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from hyplib import Encoded, ModelRecipe, TextModel, digest
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

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.embed(ids)
        for layer in self.lstm:
            h, _ = layer(h)
        return self.head(h)


class WordLM(TextModel):
    """The trained model with its tokenizer and vocabulary."""

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


def _vocabulary(sentences: list[list[str]], min_count: int) -> list[str]:
    counts = Counter(w for s in sentences for w in s)
    return ["<pad>", "<unk>"] + sorted(w for w, c in counts.items() if c >= min_count)


def train(texts: list[str], cfg: WordLMConfig, progress: bool = True) -> tuple[WordLSTM, list[str], dict]:
    """Next-word prediction over sentences, deterministic."""
    torch.manual_seed(cfg.seed)
    sentences = [tokenize(t)[0] for t in texts]
    vocab = _vocabulary(sentences, cfg.min_count)
    index = {w: i for i, w in enumerate(vocab)}
    model = WordLSTM(len(vocab), cfg)
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
                                              batch_first=True, padding_value=PAD)
            logits = model(batch[:, :-1])
            loss = nn.functional.cross_entropy(logits.reshape(-1, len(vocab)),
                                               batch[:, 1:].reshape(-1), ignore_index=PAD)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
    model.eval()
    return model, vocab, {"final_loss": float(np.mean(losses[-50:])), "vocab": len(vocab)}


def next_word_loss(lm: WordLM, texts: list[str], batch: int = 64) -> float:
    """Mean cross-entropy (nats) of predicting each token of ``texts`` from the ones before it."""
    total, count = 0.0, 0
    with torch.inference_mode():
        for lo in range(0, len(texts), batch):
            ids = lm.encode(texts[lo:lo + batch]).inputs["ids"]
            logits = lm.module(ids[:, :-1])
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten(),
                                               ignore_index=PAD, reduction="sum")
            total += float(loss)
            count += int((ids[:, 1:] != PAD).sum())
    return total / max(count, 1)


def load(cfg: WordLMConfig | None = None, name: str = "wordlm", progress: bool = True,
         path=None, **overrides) -> WordLM:
    """The model trained on EWT train (``path`` or ``$HYPLIB_UD_EWT``), cached."""
    from .ud import ud_english_ewt

    cfg = dataclasses.replace(cfg or WordLMConfig(), **overrides)
    texts = ud_english_ewt("train", path=path, max_sentences=cfg.max_sentences)["text"]

    def fresh() -> dict:
        module, vocab, record = train(texts, cfg, progress)
        return {"state_dict": module.state_dict(), "vocab": vocab, "record": record}

    saved, file = checkpoint("wordlm", [RECIPE_VERSION, dataclasses.asdict(cfg), digest(texts)],
                             fresh)
    vocab, record = saved["vocab"], saved["record"]
    module = WordLSTM(len(vocab), cfg)
    module.load_state_dict(saved["state_dict"])
    lm = WordLM(name, module, vocab, tuple(f"lstm.{i}" for i in range(cfg.layers)))
    lm.record, lm.config, lm.checkpoint = record, cfg, file
    return lm


TINY = WordLMConfig(hidden=32, embed=16, epochs=1, max_sentences=600)
RECIPES = {
    "wordlm": ModelRecipe("wordlm", lambda **kw: load(name="wordlm", **kw),
                          "2-layer 256-unit word LSTM LM trained on UD English-EWT train"),
    "wordlm-tiny": ModelRecipe("wordlm-tiny", lambda **kw: load(TINY, name="wordlm-tiny", **kw),
                               "the wordlm recipe at a tiny size, for tests (seconds)"),
}
