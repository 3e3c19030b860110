"""The 11 basic colour terms of English (Berlin & Kay), named per pixel, as Broden's colour
category.

Colour model: each pixel's sRGB value is converted to CIELAB (D65, scikit-image's
``rgb2lab``) and named after the nearest of 11 prototypes by Euclidean distance in CIELAB
(CIE76 ΔE). The prototypes are typical (focal) sRGB values of each term. Broden's colour labels
came from a learnt colour-naming model (van de Weijer et al., 2009) whose table is not
available here; this nearest-prototype rule is a simpler stand-in with the same 11 classes.
"""
from __future__ import annotations

import numpy as np

import hyplib

# (name, sRGB prototype), in Broden's class order after "-"
PROTOTYPES = {
    "black": (0, 0, 0),
    "blue": (30, 80, 200),
    "brown": (120, 70, 30),
    "green": (40, 160, 60),
    "grey": (128, 128, 128),
    "orange": (245, 130, 20),
    "pink": (245, 150, 185),
    "purple": (125, 50, 160),
    "red": (210, 25, 30),
    "white": (255, 255, 255),
    "yellow": (250, 230, 40),
}
TERMS = tuple(PROTOTYPES)


def _lab(rgb: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2lab

    return rgb2lab(np.asarray(rgb, dtype=np.uint8).reshape(-1, 1, 3)).reshape(-1, 3)


def colour_names(rgb: np.ndarray) -> np.ndarray:
    """The index into :data:`TERMS` of each pixel of ``rgb`` (..., 3) uint8, shape (...)."""
    rgb = np.asarray(rgb)
    protos = _lab(np.array(list(PROTOTYPES.values())))
    lab = _lab(rgb)
    d = (lab * lab).sum(1)[:, None] - 2 * lab @ protos.T + (protos * protos).sum(1)[None]
    return d.argmin(1).reshape(rgb.shape[:-1])


def on_grid(image, height: int, width: int) -> np.ndarray:
    """An image's RGB pixels resampled (box filter) to the record's label grid, (h, w, 3)."""
    from PIL import Image

    image = image if hasattr(image, "convert") else Image.fromarray(np.asarray(image))
    image = image.convert("RGB")
    if image.size != (width, height):
        image = image.resize((width, height), Image.BOX)
    return np.asarray(image)


@hyplib.hypothesis("vision.colour", kind="categorical", level="pixel", classes=TERMS,
                   batched=True)
def colour(batch):
    """The pixel's basic colour term (11 classes), nearest prototype in CIELAB."""
    grids = [on_grid(im, h, w) for im, h, w in zip(batch["image"], batch["height"], batch["width"])]
    flat = colour_names(np.concatenate([g.reshape(-1, 3) for g in grids]))
    ends = np.cumsum([g.shape[0] * g.shape[1] for g in grids])
    return np.split(flat, ends[:-1])


HYPOTHESES = [colour]
