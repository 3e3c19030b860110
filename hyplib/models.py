"""Models: a torch module plus its encoder. A text model says which characters each position
covers; an image model resizes images to its input size, so each pixel has a known place."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .errors import HyplibError


@dataclass
class Encoded:
    """A tokenized batch: model inputs and, per position, the character span it covers.

    ``spans`` has shape (batch, positions, 2); padding positions hold (-1, -1).
    """

    inputs: dict[str, torch.Tensor]
    spans: np.ndarray


class Model:
    """What the engine needs of any model: a ``name``, a torch ``module`` whose dotted submodule
    names are its layers, ``default_layers``, ``encode`` (a batch's ``field`` column to an
    :class:`Encoded`) and ``forward``. ``symbols`` says how its positions meet the records:
    ``"text"`` (character spans, aligned to characters and words; behaviours can be cached) or
    ``"pixels"`` (feature maps, upsampled to the label grid); ``levels`` are the hypothesis
    levels it takes."""

    field = "text"
    symbols = "text"
    levels: tuple[str, ...] = ("char", "word", "record")
    # How a record longer than the engine's window is run in pieces (:mod:`hyplib.windows`):
    # "state": a recurrent model; forward_window carries its state from piece to piece (exact).
    # "context": each piece runs after `context` positions of the text before it, run but not
    # scored, in at most `max_positions` positions (approximate: attention reaches back
    # `context` positions, not to the record's start). None: records are run whole only.
    window: str | None = None
    context: int = 0
    max_positions: int | None = None

    def __init__(self, name: str, module: torch.nn.Module, default_layers: tuple[str, ...] = ()):
        self.name = name
        self.module = module.eval()
        self.default_layers = default_layers

    def encode(self, batch: list) -> Encoded:
        raise NotImplementedError

    def to(self, device: torch.device) -> "Model":
        self.module.to(device)
        return self

    def forward(self, encoded: Encoded, device: torch.device) -> Any:
        inputs = {k: v.to(device, non_blocking=True) for k, v in encoded.inputs.items()}
        return self.module(**inputs)

    def forward_window(self, encoded: Encoded, device: torch.device, state: Any) -> Any:
        """Run one piece of a long record (one row) from ``state``, the state the piece before
        ended in (``None`` at the record's start), as :meth:`forward` does; return the state at
        the piece's end. Models with ``window = "state"`` implement it."""
        raise NotImplementedError(f"{type(self).__name__} declares window = 'state' but has no "
                                  f"forward_window")


class TextModel(Model):
    """A model over text: ``encode`` tokenizes a batch and gives each position's character span,
    ``module(**inputs)`` runs it. Subclass and implement :meth:`encode`."""


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageModel(Model):
    """A model over images: ``encode`` turns a batch's ``image`` column into a tensor,
    ``module(pixels)`` runs it."""

    field = "image"
    symbols = "pixels"
    levels = ("pixel", "record")

    def __init__(self, name: str, module: torch.nn.Module, size: int = 224,
                 mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                 default_layers: tuple[str, ...] = ()):
        super().__init__(name, module, default_layers)
        self.size = size
        self.mean = torch.tensor(mean, dtype=torch.float32)[:, None, None]
        self.std = torch.tensor(std, dtype=torch.float32)[:, None, None]

    def encode(self, images: list) -> Encoded:
        """PIL images or (h, w, 3) uint8 arrays -> normalised (batch, 3, size, size)."""
        return Encoded({"pixels": torch.stack([self._pixels(im) for im in images])}, None)

    def _pixels(self, image: Any) -> torch.Tensor:
        rgb = np.asarray(image.convert("RGB") if hasattr(image, "convert") else image)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise HyplibError(f"model {self.name!r} takes RGB images (PIL, or (h, w, 3) uint8 "
                              f"arrays), not an array of shape {rgb.shape} and dtype {rgb.dtype}")
        x = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 255
        x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True,
                          align_corners=False)[0]
        return (x - self.mean) / self.std

    def forward(self, encoded: Encoded, device: torch.device) -> Any:
        return self.module(encoded.inputs["pixels"].to(device, non_blocking=True))

    def predict(self, images: list, device: str = "cpu") -> torch.Tensor:
        """Class probabilities (batch, classes) of a classifier."""
        self.to(torch.device(device))
        with torch.inference_mode():
            return self.forward(self.encode(images), torch.device(device)).softmax(-1)


@dataclass(frozen=True)
class ModelRecipe:
    """A named way to get a model: ``build(**kwargs)`` trains or loads it. A recipe whose name
    ends in ``:`` is a family (``hf:``): ``resolve("hf:gpt2")`` gives the member's recipe."""

    name: str
    build: Callable[..., Any]
    description: str = ""
    resolve: Callable[[str], "ModelRecipe"] | None = None


def char_spans(lengths: np.ndarray, width: int) -> np.ndarray:
    """Spans for character-level tokens: position i covers character i; padding is (-1, -1)."""
    pos = np.broadcast_to(np.arange(width), (len(lengths), width))
    valid = pos < lengths[:, None]
    starts = np.where(valid, pos, -1)
    ends = np.where(valid, pos + 1, -1)
    return np.stack([starts, ends], axis=-1)
