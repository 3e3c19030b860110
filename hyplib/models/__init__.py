"""Models: a torch module plus the tokenizer that says which characters each position covers."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch


@dataclass
class Encoded:
    """A tokenized batch: model inputs and, per position, the character span it covers.

    ``spans`` has shape (batch, positions, 2); padding positions hold (-1, -1).
    """

    inputs: dict[str, torch.Tensor]
    spans: np.ndarray


class TextModel:
    """A model over text: ``encode`` tokenizes a batch, ``module(**inputs)`` runs it.

    Subclass and implement :meth:`encode`; layers are the module's dotted submodule names.
    """

    def __init__(self, name: str, module: torch.nn.Module, default_layers: tuple[str, ...] = ()):
        self.name = name
        self.module = module.eval()
        self.default_layers = default_layers

    def encode(self, texts: list[str]) -> Encoded:
        raise NotImplementedError

    def to(self, device: torch.device) -> "TextModel":
        self.module.to(device)
        return self

    def forward(self, encoded: Encoded, device: torch.device) -> Any:
        inputs = {k: v.to(device, non_blocking=True) for k, v in encoded.inputs.items()}
        return self.module(**inputs)


@dataclass(frozen=True)
class ModelRecipe:
    """A named way to get a :class:`TextModel`: ``build(**kwargs)`` trains or loads it."""

    name: str
    build: Callable[..., TextModel]
    description: str = ""


def char_spans(lengths: np.ndarray, width: int) -> np.ndarray:
    """Spans for character-level tokens: position i covers character i; padding is (-1, -1)."""
    pos = np.broadcast_to(np.arange(width), (len(lengths), width))
    valid = pos < lengths[:, None]
    starts = np.where(valid, pos, -1)
    ends = np.where(valid, pos + 1, -1)
    return np.stack([starts, ends], axis=-1)
