"""NetDissect's report from an IoU inspection: each unit's best concept, detector counts per
layer and concept category, and the top images of units with the unit's mask overlaid.

A unit's concept is the pixel-level label column with its highest IoU (classes that name no
concept, such as ``none``, ``-`` and ``plain``, left out); it is a detector when that IoU
exceeds the inspector's ``detect`` threshold (0.04). A concept's category is the last part of
its hypothesis name (``vision.colour`` -> ``colour``, ``vision.broden.object`` -> ``object``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from hyplib import Result, Upsampler, atomic_path, feature_map, pick_device, record
from hyplib.study import grouped_bars, mask_overlays

NOT_CONCEPTS = {"none", "-", "plain"}


def unit_concepts(result: Result, hypotheses: Sequence, detect: float = 0.04) -> pd.DataFrame:
    """One row per (model, layer, unit): its best pixel concept, category, IoU, detector."""
    pixel = {h.name for h in hypotheses if h.level == "pixel"}
    t = result.table
    t = t[(t["inspector"] == "iou") & (t["metric"] == "iou") & t["hypothesis"].isin(pixel)
          & ~t["label"].isin(NOT_CONCEPTS)]
    best = t.sort_values("score", ascending=False, kind="stable").groupby(
        ["model", "layer", "unit"], sort=False).head(1)
    return (best.assign(category=best["hypothesis"].str.rsplit(".", n=1).str[-1],
                        concept=best["label"], iou=best["score"],
                        detector=best["score"] > detect)
            [["model", "layer", "unit", "unit_name", "category", "concept", "iou", "detector"]]
            .sort_values(["model", "layer", "unit"]).reset_index(drop=True))


def detector_counts(concepts: pd.DataFrame, categories: Sequence[str] = ()) -> pd.DataFrame:
    """Detectors per layer (rows, in module order: ``features.2`` before ``features.10``) and
    concept category (columns)."""
    det = concepts[concepts["detector"]]
    cats = list(categories) or sorted(concepts["category"].unique())
    layers = sorted(concepts["layer"].unique(), key=lambda name: [
        (0, int(p), "") if p.isdigit() else (1, 0, p) for p in name.split(".")])
    return (pd.crosstab(det["layer"], det["category"]).reindex(index=layers, columns=cats)
            .fillna(0).astype(int))


@torch.inference_mode()
def top_images(model, data, layer: str, k: int = 4, quantile: float = 0.995,
               pixels: int = 1 << 16, batch_size: int = 32, device: str = "auto", seed: int = 0
               ) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's ``k`` images of highest peak activation (units × k record indices) and its
    activation threshold: the ``quantile`` of the unit's upsampled activations on about
    ``pixels`` seeded pixels spread over the images (used to draw masks, not to score)."""
    dev = pick_device(device)
    sample = max(16, pixels // len(data))
    model.to(dev)
    gen = torch.Generator().manual_seed(seed)
    peaks, picks = [], []
    for lo in range(0, len(data), batch_size):
        batch = data[lo:lo + batch_size]
        with record(model.module, [layer], model.name) as seen:
            model.forward(model.encode(batch[model.field]), dev)
        fmap = feature_map(seen[layer], layer).float()
        peaks.append(fmap.amax((2, 3)).cpu())
        grids = np.stack([batch["height"], batch["width"]], 1)
        x = torch.cat([x for _, x in Upsampler(grids).chunks(fmap)])
        picks.append(x[torch.randint(len(x), (sample * len(grids),), generator=gen)
                       .to(x.device)].cpu())
    peak = torch.cat(peaks)
    top = peak.topk(min(k, len(peak)), dim=0).indices.T.numpy()
    return top, torch.quantile(torch.cat(picks), quantile, dim=0).numpy()


@torch.inference_mode()
def unit_masks(model, data, layer: str, unit: int, records: Sequence[int], threshold: float,
               device: str = "auto") -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The images of ``records`` and where the unit's upsampled activation exceeds
    ``threshold`` on each one's label grid."""
    dev = pick_device(device)
    batch = data[[int(r) for r in records]]
    with record(model.module, [layer], model.name) as seen:
        model.forward(model.encode(batch[model.field]), dev)
    fmap = feature_map(seen[layer], layer).float()[:, unit:unit + 1]
    grids = np.stack([batch["height"], batch["width"]], 1)
    flat = torch.zeros(int(grids.prod(1).sum()), device=dev)
    for rows, x in Upsampler(grids).chunks(fmap):
        flat[rows] = x[:, 0]
    sizes = grids.prod(1)
    masks = [m.view(int(h), int(w)).cpu().numpy() > threshold
             for m, (h, w) in zip(flat.split(sizes.tolist()), grids)]
    images = [np.asarray(im.convert("RGB") if hasattr(im, "convert") else im)
              for im in batch[model.field]]
    return images, masks


def report(result: Result, hypotheses: Sequence, model, data, out: str | Path,
           units: int = 3, k: int = 4, device: str = "auto") -> tuple[pd.DataFrame, list[Path]]:
    """Write ``unit_concepts.csv``, ``detector_counts.csv`` and its bar chart, and the
    :func:`overlays`; returns the unit table and the files."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    concepts = unit_concepts(result, hypotheses)
    counts = detector_counts(concepts)
    files = [out / "unit_concepts.csv", out / "detector_counts.csv"]
    with atomic_path(files[0]) as tmp:
        concepts.to_csv(tmp, index=False)
    with atomic_path(files[1]) as tmp:
        counts.to_csv(tmp)
    files.append(grouped_bars(counts, out / "detector_counts.png",
                              f"{model.name}: detectors (IoU > 0.04) per layer", "units"))
    return concepts, files + overlays(concepts, model, data, out, units, k, device)


def overlays(concepts: pd.DataFrame, model, data, out: str | Path, units: int = 3, k: int = 4,
             device: str = "auto") -> list[Path]:
    """For each layer, PNGs of the top ``k`` images of its ``units`` best units with each
    unit's mask overlaid (``LAYER-unitN.png``)."""
    files = []
    for layer, part in concepts[concepts["model"] == model.name].groupby("layer", sort=False):
        best = part.sort_values("iou", ascending=False).head(units)
        top, thresholds = top_images(model, data, layer, k, device=device)
        for row in best.itertuples():
            images, masks = unit_masks(model, data, layer, row.unit, top[row.unit],
                                       float(thresholds[row.unit]), device)
            files.append(mask_overlays(
                images, masks, Path(out) / f"{layer}-unit{row.unit}.png",
                [f"record {r}" for r in top[row.unit]],
                f"{row.unit_name}: {row.category} '{row.concept}', IoU {row.iou:.3f}"))
    return files
