"""A character-level LSTM language model trained on the Python standard library's source.

Training is deterministic (seeded initialisation and batch sampling) and the checkpoint is
cached under the user's cache directory by a hash of the recipe and the corpus, so the model is
trained once per machine and Python version. Layers: ``embed``, ``lstm.0``, ``lstm.1``, ...
(each LSTM layer's per-step hidden state is a behaviour), ``head``.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from hyplib import Encoded, ModelRecipe, TextModel, char_spans
from hyplib.study import checkpoint

from .stdlib import read_source, stdlib_files

RECIPE_VERSION = 1
PAD, UNK = 0, 1
ALPHABET = "\t\n" + "".join(chr(c) for c in range(32, 127))
LOOKUP = np.full(128, UNK, dtype=np.int64)
LOOKUP[[ord(c) for c in ALPHABET]] = np.arange(2, 2 + len(ALPHABET))


@dataclass(frozen=True)
class CharLMConfig:
    """The recipe: architecture, data and optimisation; every field goes into the cache key."""

    hidden: int = 256
    layers: int = 2
    embed: int = 32
    seq_len: int = 128
    batch: int = 32
    steps: int = 1500
    lr: float = 3e-3
    max_train_chars: int = 4_000_000
    seed: int = 0


class CharLSTM(nn.Module):
    """Embedding, a stack of single-layer LSTMs (so each layer can be hooked) and a softmax head.

    ``lstm.i`` outputs layer i's per-step hidden state h; ``cells.i`` (no parameters) outputs
    its per-step cell state c, computed only when something hooks it: that layer then runs
    step by step (:class:`CellLSTM`), giving h and c together.
    """

    def __init__(self, cfg: CharLMConfig):
        super().__init__()
        self.embed = nn.Embedding(2 + len(ALPHABET), cfg.embed, padding_idx=PAD)
        sizes = [cfg.embed] + [cfg.hidden] * cfg.layers
        self.lstm = nn.ModuleList(CellLSTM(a, b, batch_first=True)
                                  for a, b in zip(sizes, sizes[1:]))
        self.cells = nn.ModuleList(nn.Identity() for _ in range(cfg.layers))
        self.head = nn.Linear(cfg.hidden, 2 + len(ALPHABET))

    def forward(self, ids: torch.Tensor, state: list | None = None) -> torch.Tensor:
        return self.run(ids, state)[0]

    def run(self, ids: torch.Tensor, state: list | None = None) -> tuple[torch.Tensor, list]:
        """The logits and, per layer, the (h, c) after the last step, from ``state`` (per
        layer (h, c), each (1, batch, hidden); ``None``: zeros)."""
        h, after = self.embed(ids), []
        for i, (layer, cells) in enumerate(zip(self.lstm, self.cells)):
            start = None if state is None else state[i]
            if cells._forward_hooks:
                h, end, c = layer(h, start, lengths=(ids != PAD).sum(1))
                cells(c)
            else:
                h, end = layer(h, start)
            after.append(end)
        return self.head(h), after


class CellLSTM(nn.LSTM):
    """A one-layer batch-first :class:`torch.nn.LSTM` that can also give its per-step cell
    states: called with the records' ``lengths`` (each a prefix of its row; padding after),
    from ``hx`` (zeros if ``None``), it returns ``(h, (h_n, c_n), c)``, h and c per step with
    zeros at padding.

    That path runs the recurrence itself on the packed records (as
    :func:`torch.nn.utils.rnn.pack_padded_sequence` lays them out: padding is not computed):
    one input projection for all steps, then per step one product with the recurrent weights
    over the records still running. Its h equals the fused kernel's to float rounding (5e-7
    here); h and c together cost 1.1-1.4× the fused kernel's h alone, where recomputing c
    from h afterwards cost another 1.2×. Records that come longest first (as the engine
    batches them) are neither sorted nor, which costs a copy of each padded output, unsorted.
    """

    def forward(self, input, hx=None, lengths: torch.Tensor | None = None):
        if lengths is None:
            return super().forward(input, hx)
        if self.num_layers != 1 or self.bidirectional or not self.batch_first or self.proj_size:
            raise ValueError("cell states are computed for one-layer, batch-first LSTMs "
                             "without projections")
        batch, steps, _ = input.shape
        lengths = lengths.cpu().clamp(min=1)  # an empty record runs one padding step
        ordered = bool((lengths[:-1] >= lengths[1:]).all())  # as the engine's batches come
        packed = nn.utils.rnn.pack_padded_sequence(input, lengths, batch_first=True,
                                                   enforce_sorted=ordered)
        sizes = packed.batch_sizes.tolist()
        gx = torch.addmm(self.bias_ih_l0 + self.bias_hh_l0, packed.data, self.weight_ih_l0.T)
        # records sorted longest first: step t writes column t of rows :n in place; only
        # the padding after each record is zeroed
        hs, cs = gx.new_empty(2, batch, steps, self.hidden_size).unbind(0)
        for r, n in enumerate(sorted(lengths.tolist(), reverse=True)):  # per record (sorted)
            hs[r, n:] = 0
            cs[r, n:] = 0
        h = c = gx.new_zeros(batch, self.hidden_size)
        if hx is not None:  # (h_0, c_0), each (1, batch, hidden), in the sorted order
            h, c = (s[0] if ordered else s[0].index_select(0, packed.sorted_indices.to(s.device))
                    for s in hx)
        w_hh, lo = self.weight_hh_l0.T, 0
        for t, n in enumerate(sizes):  # the n records still running
            i, f, g, o = torch.addmm(gx[lo:lo + n], h[:n], w_hh).chunk(4, 1)
            c = torch.addcmul(torch.sigmoid(i) * torch.tanh(g), torch.sigmoid(f), c[:n],
                              out=cs[:n, t])
            h = torch.mul(torch.sigmoid(o), torch.tanh(c), out=hs[:n, t])
            lo += n
        out, cells = hs, cs
        if not ordered:  # back to the records' order: a copy of each padded output
            order = packed.unsorted_indices.to(hs.device)
            out, cells = hs.index_select(0, order), cs.index_select(0, order)
        last = (lengths - 1).to(out.device)
        at = torch.arange(batch, device=out.device)
        return out, (out[at, last][None], cells[at, last][None]), cells


def encode_ids(text: str) -> np.ndarray:
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    return LOOKUP[np.minimum(codes, 127)] if codes.size else np.zeros(0, np.int64)


class CharLM(TextModel):
    """The trained model with its character tokenizer; ``vocab`` names the head's outputs."""

    vocab = ("<pad>", "<unk>", *ALPHABET)
    window = "state"  # a long record runs in pieces, each from the state the last ended in

    def forward_window(self, encoded: Encoded, device: torch.device, state: list | None) -> list:
        return self.module.run(encoded.inputs["ids"].to(device, non_blocking=True), state)[1]

    def encode(self, texts: list[str]) -> Encoded:
        lengths = np.array([len(t) for t in texts])
        ids = np.full((len(texts), max(int(lengths.max()), 1)), PAD, dtype=np.int64)
        for i, text in enumerate(texts):
            ids[i, :len(text)] = encode_ids(text)
        return Encoded({"ids": torch.from_numpy(ids)}, char_spans(lengths, ids.shape[1]))


def corpus_ids(split: str, max_chars: int) -> np.ndarray:
    """The split's files, concatenated and encoded, at most ``max_chars`` characters."""
    texts, total = [], 0
    for path in stdlib_files(split):
        text = read_source(path)
        if text is None:
            continue
        texts.append(text[:max_chars - total])
        total += len(texts[-1])
        if total >= max_chars:
            break
    return encode_ids("".join(texts))


def train(cfg: CharLMConfig, progress: bool = True, device: str = "cpu"
          ) -> tuple[CharLSTM, dict]:
    """Train deterministically (on ``device``); returns the model, on the CPU, and its
    training record."""
    torch.manual_seed(cfg.seed)
    model = CharLSTM(cfg).to(device)
    data = torch.from_numpy(corpus_ids("train", cfg.max_train_chars)).to(device)
    held_out = torch.from_numpy(corpus_ids("test", 200_000)).to(device)
    gen = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
    offsets = torch.arange(cfg.seq_len + 1)
    start = time.perf_counter()
    bar = tqdm(range(cfg.steps), desc="train charlm", disable=not progress, unit="step")
    for _ in bar:
        at = torch.randint(0, len(data) - cfg.seq_len - 1, (cfg.batch,), generator=gen)
        window = data[(at[:, None] + offsets).to(device)]
        logits = model(window[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                           window[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    model.eval()
    bits = bits_per_char(model, held_out, cfg.seq_len * 4)
    return model.cpu(), {"train_seconds": time.perf_counter() - start, "final_loss": loss.item(),
                         "held_out_bits_per_char": bits, "device": str(device)}


@torch.inference_mode()
def bits_per_char(model: CharLSTM, ids: torch.Tensor, seq_len: int) -> float:
    n = (len(ids) - 1) // seq_len * seq_len
    x, y = ids[:n].view(-1, seq_len), ids[1:n + 1].view(-1, seq_len)
    loss = nn.functional.cross_entropy(model(x).reshape(-1, model.head.out_features), y.reshape(-1))
    return loss.item() / math.log(2)


def load(cfg: CharLMConfig | None = None, name: str = "charlm", progress: bool = True,
         device: str = "cpu", **overrides) -> CharLM:
    """The trained model for ``cfg``: from the cache, or trained now on ``device`` and cached
    atomically (a model trained on another kind of device is cached apart: its numbers
    differ)."""
    cfg = dataclasses.replace(cfg or CharLMConfig(), **overrides)
    kind = torch.device(device).type
    recipe = [RECIPE_VERSION, dataclasses.asdict(cfg),
              [(p.name, p.stat().st_size) for p in stdlib_files("all")]]
    recipe += [kind] if kind != "cpu" else []

    def fresh() -> dict:
        model, record = train(cfg, progress, device)
        return {"state_dict": model.state_dict(), "config": dataclasses.asdict(cfg),
                "record": record}

    saved, path = checkpoint("charlm", recipe, fresh)
    model = CharLSTM(cfg)
    model.load_state_dict(saved["state_dict"])
    record = saved["record"]
    lm = CharLM(name, model, tuple(f"lstm.{i}" for i in range(cfg.layers)))
    lm.record, lm.config, lm.checkpoint = record, cfg, path
    return lm


TINY = CharLMConfig(hidden=48, embed=16, seq_len=64, batch=16, steps=60, max_train_chars=200_000)
# Karpathy et al.'s largest: 3 layers of 512, sequences of 100, batches of 100, to convergence
PAPER = CharLMConfig(hidden=512, layers=3, embed=64, seq_len=100, batch=100, steps=30_000,
                     lr=2e-3, max_train_chars=40_000_000)
RECIPES = {
    "charlm": ModelRecipe("charlm", lambda **kw: load(name="charlm", **kw),
                          "2-layer 256-unit char LSTM trained on Python's stdlib source"),
    "charlm-tiny": ModelRecipe("charlm-tiny", lambda **kw: load(TINY, name="charlm-tiny", **kw),
                               "the charlm recipe at a tiny size, for tests (seconds)"),
}
