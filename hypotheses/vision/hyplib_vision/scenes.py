"""A seeded, procedurally generated scene set with exact masks, any size.

Each image is a plain background in one of its scene's two colours with 1-3 objects (shapes)
on it, each of another basic colour and a texture; later objects occlude earlier ones. Concepts
are local, as Broden's are: a shape, a texture other than ``plain`` or an object's colour
covers a few percent of all pixels, which NetDissect's top-0.5% activation masks can match. Every pixel's shape
and texture are known exactly, so the masks are exact: no anti-aliasing, no annotation noise.

Concept categories: ``vision.scenes.shape`` (pixel: ``none`` or the shape covering it),
``vision.scenes.texture`` (pixel: the texture of the surface it shows), colours
(``vision.colour``, named from the pixels) and ``vision.scenes.scene`` (image-level).
Records: ``image`` (PNG), ``shape`` and ``texture`` (PNG label maps, class indices),
``scene`` (class index), ``objects`` (the shapes present), ``height``/``width`` (the grid).
Record ``i`` of seed ``s`` is the same whatever the size of the set.
"""
from __future__ import annotations

import os

import datasets
import numpy as np

import hyplib
from hyplib import DataSource, cache_dir, digest

from .colour import PROTOTYPES
from .masks import label_map_hypothesis

VERSION = 2
SHAPES = ("none", "circle", "square", "triangle", "ring", "cross")
TEXTURES = ("plain", "stripes", "checks", "dots", "noise")
# scene: its background colours
SCENES = {
    "meadow": ("green", "yellow"),
    "sea": ("blue", "white"),
    "desert": ("orange", "brown"),
    "night": ("black", "purple"),
    "snow": ("white", "grey"),
}
COLOURS = tuple(PROTOTYPES)


def _texture(kind: str, yy: np.ndarray, xx: np.ndarray, size: int, rng) -> np.ndarray:
    """A brightness factor per pixel in (0.5, 1] for the texture ``kind``."""
    scale = size / 112
    if kind == "stripes":
        angle, period = rng.uniform(0, np.pi), rng.uniform(6, 10) * scale
        on = np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period) > 0
    elif kind == "checks":
        period = max(2, int(rng.uniform(8, 14) * scale))
        on = ((yy // period + xx // period) % 2).astype(bool)
    elif kind == "dots":
        period = max(3, rng.uniform(7, 11) * scale)
        on = (np.hypot((yy % period) - period / 2, (xx % period) - period / 2) < period / 4)
    elif kind == "noise":
        return rng.uniform(0.55, 1.0, size=yy.shape)
    else:
        return np.ones(yy.shape)
    return np.where(on, 0.55, 1.0)


def _shape(kind: str, yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, r: float
           ) -> np.ndarray:
    """The pixels covered by a shape of radius ``r`` centred at (``cy``, ``cx``)."""
    dy, dx = yy - cy, xx - cx
    if kind == "circle":
        return np.hypot(dy, dx) <= r
    if kind == "square":
        return np.maximum(abs(dy), abs(dx)) <= r * 0.85
    if kind == "triangle":  # pointing up: below the two slanted sides, above the base
        return (dy <= r * 0.7) & (dy >= 2 * abs(dx) - r)
    if kind == "ring":
        d = np.hypot(dy, dx)
        return (d <= r) & (d >= r * 0.55)
    if kind == "cross":
        return ((abs(dx) <= r * 0.3) & (abs(dy) <= r)) | ((abs(dy) <= r * 0.3) & (abs(dx) <= r))
    raise ValueError(kind)


def render(index: int, seed: int = 0, size: int = 112) -> dict:
    """Scene ``index`` of ``seed``: the image (h, w, 3) uint8, its shape and texture label maps,
    its scene and the shapes present."""
    rng = np.random.default_rng([seed, index, VERSION])
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    scene = int(rng.integers(len(SCENES)))
    palette = list(SCENES.values())[scene]
    base = np.array(PROTOTYPES[palette[rng.integers(2)]], dtype=np.float64)
    image = np.broadcast_to(np.clip(base + rng.normal(0, 8, 3), 0, 255), (size, size, 3)).copy()
    shape = np.zeros((size, size), np.uint8)
    texture = np.zeros((size, size), np.uint8)
    objects = []
    for _ in range(rng.integers(1, 4)):
        kind = SHAPES[1 + rng.integers(len(SHAPES) - 1)]
        r = rng.uniform(0.1, 0.25) * size
        cy, cx = rng.uniform(r * 0.6, size - r * 0.6, 2)
        covered = _shape(kind, yy, xx, cy, cx, r)
        colour = [c for c in COLOURS if c not in palette][rng.integers(len(COLOURS) - 2)]
        tex = TEXTURES[rng.integers(len(TEXTURES))]
        fill = np.clip(np.array(PROTOTYPES[colour]) + rng.normal(0, 8, 3), 0, 255)
        image[covered] = (fill * _texture(tex, yy, xx, size, rng)[..., None])[covered]
        shape[covered] = SHAPES.index(kind)
        texture[covered] = TEXTURES.index(tex)
        objects.append(kind)
    image = np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)
    return {"image": image, "shape": shape, "texture": texture, "scene": scene,
            "objects": sorted(set(objects))}


FEATURES = datasets.Features({
    "image": datasets.Image(), "shape": datasets.Image(), "texture": datasets.Image(),
    "scene": datasets.ClassLabel(names=list(SCENES)),
    "objects": datasets.Sequence(datasets.Value("string")),
    "height": datasets.Value("int32"), "width": datasets.Value("int32"),
})


def scenes(n: int = 1000, seed: int = 0, size: int = 112, start: int = 0) -> datasets.Dataset:
    """Scenes ``start .. start + n`` of ``seed`` at ``size`` pixels, generated once and cached."""
    if n < 1 or size < 16:
        raise hyplib.HyplibError(f"scenes: n must be at least 1 and size at least 16 pixels, "
                                 f"not n={n}, size={size}")
    path = cache_dir("datasets") / f"scenes-{digest([VERSION, n, seed, size, start])}"
    if not path.exists():
        rows = [render(i, seed, size) for i in range(start, start + n)]
        columns = {k: [r[k] for r in rows] for k in rows[0]}
        data = datasets.Dataset.from_dict({**columns, "height": [size] * n, "width": [size] * n},
                                          features=FEATURES)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
        data.save_to_disk(str(tmp))
        os.replace(tmp, path)
    return datasets.load_from_disk(str(path))


shape = label_map_hypothesis("vision.scenes.shape", "shape", SHAPES,
                             "The shape (object) covering the pixel in a generated scene.")
texture = label_map_hypothesis("vision.scenes.texture", "texture", TEXTURES,
                               "The texture of the surface the pixel shows in a generated scene.")


@hyplib.hypothesis("vision.scenes.scene", kind="categorical", level="record", field="scene",
                   classes=tuple(SCENES))
def scene(label):
    """The generated scene's class (image-level)."""
    return label


HYPOTHESES = [shape, texture, scene]
SOURCE = DataSource("scenes", scenes, "Generated scenes with exact shape/texture masks, "
                                      "colours and scene labels (seeded, any size).")
