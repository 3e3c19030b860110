"""Concepts from masks shipped with a data set: PNG label maps in a folder, the Broden layout,
and image-level class labels.

A folder data set (:func:`folder`): ``images/NAME.{png,jpg,jpeg}``, ``masks/NAME.png`` (a
single-channel label map: class index per pixel) and ``classes.txt`` (one class name per line,
line ``i`` naming index ``i``; 0 is usually the background).

Broden (:func:`broden`), the layout of NetDissect's data set: ``index.csv`` (``image``,
``split``, ``ih``, ``iw``, ``sh``, ``sw`` and one column per category holding ``;``-separated
mask files, or label numbers for image-level categories such as ``scene``), ``category.csv``,
``label.csv`` and ``c_CATEGORY.csv`` (``code``, ``number``, ``name``, ...: the category's own
codes for global label numbers); images under ``images/``, a mask pixel's label being
``R + 256·G``. Each category becomes one categorical pixel-level hypothesis
``vision.broden.CATEGORY`` with class ``-`` (unlabelled) first; image-level labels cover the
whole image. Where one category's masks overlap, the first mask listed wins (NetDissect counts
each); images that do not label a category count as ``-`` for it (NetDissect leaves them out of
that category's activation area).
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

import datasets
import numpy as np

import hyplib
from hyplib import HyplibError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def label_map_hypothesis(name: str, column: str, classes: Sequence[str], description: str = "",
                         version: str = "1") -> hyplib.Hypothesis:
    """A pixel-level categorical hypothesis reading the label map (class index per pixel) in
    ``column``."""
    @hyplib.hypothesis(name, kind="categorical", level="pixel", classes=tuple(classes),
                       field=column, version=version, description=description)
    def labels(mask):
        return np.asarray(mask)
    return labels


def class_label_hypothesis(data: datasets.Dataset, column: str, name: str | None = None
                           ) -> hyplib.Hypothesis:
    """An image-level categorical hypothesis from a ``ClassLabel`` column of ``data``."""
    feature = data.features.get(column)
    if not isinstance(feature, datasets.ClassLabel):
        raise HyplibError(f"column {column!r} is {type(feature).__name__ if feature else 'absent'}"
                          f", not a datasets.ClassLabel; the data's columns: {data.column_names}")

    @hyplib.hypothesis(name or f"vision.class.{column}", kind="categorical", level="record",
                       field=column, classes=tuple(feature.names),
                       description=f"The image's {column} (class label).")
    def label(value):
        return value
    return label


def folder(root: str | Path, name: str = "vision.folder"
           ) -> tuple[datasets.Dataset, hyplib.Hypothesis]:
    """The records of a folder of images and PNG label maps, and its hypothesis ``name``."""
    root = Path(root)
    classes_file, masks = root / "classes.txt", root / "masks"
    if not classes_file.is_file() or not (root / "images").is_dir() or not masks.is_dir():
        raise HyplibError(f"{root} is not a label-map folder: it needs images/, masks/ (PNG "
                          f"label maps named like the images) and classes.txt (one class per line)")
    classes = [c.strip() for c in classes_file.read_text().splitlines() if c.strip()]
    images = sorted(p for p in (root / "images").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise HyplibError(f"{root / 'images'} holds no {'/'.join(IMAGE_SUFFIXES)} images")
    missing = [p.name for p in images if not (masks / f"{p.stem}.png").exists()]
    if missing:
        raise HyplibError(f"{len(missing)} images have no label map masks/NAME.png: "
                          f"{', '.join(missing[:5])}")
    sizes = [_png_size(masks / f"{p.stem}.png") for p in images]
    data = datasets.Dataset.from_dict(
        {"image": [str(p) for p in images], "mask": [str(masks / f"{p.stem}.png") for p in images],
         "height": [h for h, _ in sizes], "width": [w for _, w in sizes]},
        features=datasets.Features({"image": datasets.Image(), "mask": datasets.Image(),
                                    "height": datasets.Value("int32"),
                                    "width": datasets.Value("int32")}))
    return data, label_map_hypothesis(name, "mask", classes, f"The class of the pixel in the "
                                      f"label maps of {root.name}.")


def _png_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as im:
        return im.height, im.width


def _rows(path: Path) -> list[dict]:
    if not path.is_file():
        raise HyplibError(f"{path.parent} is not a Broden folder: {path.name} is missing "
                          f"(Broden has index.csv, category.csv, label.csv, c_*.csv, images/)")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def broden_categories(root: str | Path) -> dict[str, tuple[dict[int, int], tuple[str, ...]]]:
    """Per category: global label number -> category code, and the class names by code."""
    root = Path(root)
    out = {}
    for cat in _rows(root / "category.csv"):
        codes = _rows(root / f"c_{cat['name']}.csv")
        names = ["-"] * (1 + max((int(r["code"]) for r in codes), default=0))
        for r in codes:
            names[int(r["code"])] = r["name"]
        out[cat["name"]] = ({int(r["number"]): int(r["code"]) for r in codes}, tuple(names))
    return out


def broden(root: str | Path, split: str | None = None
           ) -> tuple[datasets.Dataset, list[hyplib.Hypothesis]]:
    """Broden's records (``split`` ``"train"``/``"val"``, or all) and one hypothesis per
    category."""
    root = Path(root).resolve()
    index = _rows(root / "index.csv")
    _rows(root / "label.csv")
    cats = broden_categories(root)
    if split is not None:
        index = [r for r in index if r["split"] == split]
    if not index:
        raise HyplibError(f"{root / 'index.csv'} lists no images" + (f" of split {split!r}"
                                                                     if split else ""))
    columns = {"image": [str(root / "images" / r["image"]) for r in index],
               "height": [int(r["sh"]) for r in index], "width": [int(r["sw"]) for r in index]}
    for cat in cats:
        columns[cat] = [[str(root / "images" / e) if e.endswith(".png") else e
                         for e in (r.get(cat) or "").split(";") if e] for r in index]
    feats = {"image": datasets.Image(), "height": datasets.Value("int32"),
             "width": datasets.Value("int32"),
             **{cat: datasets.Sequence(datasets.Value("string")) for cat in cats}}
    data = datasets.Dataset.from_dict(columns, features=datasets.Features(feats))
    return data, broden_hypotheses(root)


def broden_hypotheses(root: str | Path) -> list[hyplib.Hypothesis]:
    """One pixel-level hypothesis per Broden category (read from the CSV files only)."""
    return [_broden_hypothesis(cat, *v) for cat, v in broden_categories(root).items()]


def _broden_hypothesis(category: str, codes: dict[int, int], classes: tuple[str, ...]
                       ) -> hyplib.Hypothesis:
    lookup = np.zeros(1 + max(codes, default=0), dtype=np.int64)
    lookup[list(codes)] = list(codes.values())

    def code_of(number: np.ndarray) -> np.ndarray:
        return np.where(number < len(lookup), lookup[np.minimum(number, len(lookup) - 1)], 0)

    @hyplib.hypothesis(f"vision.broden.{category}", kind="categorical", level="pixel",
                       classes=classes, batched=True,
                       description=f"Broden's {category} label of the pixel ('-': none).")
    def labels(batch):
        out = []
        for entries, h, w in zip(batch[category], batch["height"], batch["width"]):
            grid = np.zeros((h, w), dtype=np.int64)
            for entry in entries:
                grid = np.where(grid == 0, code_of(_broden_mask(entry, h, w)), grid)
            out.append(grid)
        return out
    return labels


def _broden_mask(entry: str, height: int, width: int) -> np.ndarray:
    """A mask file's global label numbers (R + 256·G), or an image-level label everywhere."""
    if not entry.endswith(".png"):
        return np.full((height, width), int(entry))
    from PIL import Image

    with Image.open(entry) as im:
        rgb = np.asarray(im.convert("RGB")).astype(np.int64)
    if rgb.shape[:2] != (height, width):
        raise HyplibError(f"Broden mask {entry} is {rgb.shape[1]}×{rgb.shape[0]}, but index.csv "
                          f"says sw×sh = {width}×{height}")
    return rgb[..., 0] + 256 * rgb[..., 1]
