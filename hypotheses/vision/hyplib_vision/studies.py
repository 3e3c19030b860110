"""Study ``bau2017``: Network Dissection of MobileNetV2 and the scene CNN on the generated scenes."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from hyplib import inspect
from hyplib.study import (
    Claim,
    Context,
    Outcome,
    Study,
    grouped_bars,
    one_thread,
    percentile,
    resampled_sums,
    write_report,
)
from hyplib_vision.classifiers import torchvision_model

from . import cnn, colour, dissect, scenes

CATEGORIES = ("colour", "shape", "texture")
OBJECTS = ("shape", "texture")  # trained vs random is judged on these (random nets detect colour)
UNIQUE_GAIN = 2  # the trained net detects at least 2 more distinct shapes/textures (of 9)


@dataclass(frozen=True)
class Bau2017Config:
    records: int = 200
    size: int = 112
    mobilenet_layers: tuple[str, ...] = ("features.3", "features.7", "features.14")
    early: str = "features.3"
    late: str = "features.14"
    scenecnn: cnn.SceneCNNConfig = cnn.SceneCNNConfig()
    overlays: int = 2  # units per layer drawn with their top images
    site_units: int = 60  # unit pages in the HTML report of the trained MobileNetV2


QUICK = Bau2017Config(records=16, size=48, scenecnn=cnn.TINY, overlays=0, site_units=3)
# more and larger scenes (the paper: Broden's 63,305 images at 224 pixels) and a wider CNN
PAPER = Bau2017Config(records=2000, size=224, overlays=4,
                      scenecnn=cnn.SceneCNNConfig(width=64, size=128, train_images=20000,
                                                  epochs=8))


def _random_mobilenet(seed: int, name: str):
    torch.manual_seed(seed)
    model = torchvision_model("mobilenet_v2", weights=None)
    model.name = name
    return model


def _models(cfg: Bau2017Config, progress: bool, control: str | None = None) -> dict[str, tuple]:
    """name -> (model, layers): each network trained and at a seeded random initialisation;
    under the negative control the "trained" ones are other seeds' initialisations."""
    scene_layers = tuple(f"features.{i}" for i in range(4))
    if control == "untrained":
        mobilenet = _random_mobilenet(1, "mobilenet_v2")
        scenecnn = cnn.load(cfg.scenecnn, name="scenecnn", trained=False,
                            seed=cfg.scenecnn.seed + 1)
        scenecnn.record = {"scene_accuracy": float("nan"), "shape_accuracy": float("nan")}
    else:
        mobilenet = torchvision_model("mobilenet_v2", progress=progress)
        scenecnn = cnn.load(cfg.scenecnn, progress=progress)
    return {
        "mobilenet_v2": (mobilenet, cfg.mobilenet_layers),
        "mobilenet_v2-random": (_random_mobilenet(0, "mobilenet_v2-random"),
                                cfg.mobilenet_layers),
        "scenecnn": (scenecnn, scene_layers),
        "scenecnn-random": (cnn.load(cfg.scenecnn, name="scenecnn-random", trained=False),
                            scene_layers),
    }


def _unique_draws(concepts: pd.DataFrame, seed: int) -> np.ndarray:
    """Per bootstrap resample of the network's units: its number of distinct shape/texture
    concepts that have a detector (Network Dissection's unique detectors)."""
    det = concepts["detector"] & concepts["category"].isin(OBJECTS)
    onehot = pd.crosstab(concepts.index, concepts["concept"].where(det, "")).drop(
        columns="", errors="ignore").to_numpy(float)
    if not onehot.shape[1]:
        return np.zeros(2000)
    return (resampled_sums(onehot, seed=seed) > 0).sum(1).astype(float)


def _share_draws(concepts: pd.DataFrame, layer: str, category: str, seed: int) -> np.ndarray:
    """Per bootstrap resample of the layer's units: the share of its detectors of
    ``category`` (NaN where a resample has no detector)."""
    part = concepts[concepts["layer"] == layer]
    cols = np.column_stack([part["detector"] & (part["category"] == category),
                            part["detector"]]).astype(float)
    sums = resampled_sums(cols, seed=seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sums[:, 1] > 0, sums[:, 0] / sums[:, 1], np.nan)


def _share(counts: pd.DataFrame, layer: str, category: str) -> float:
    total = counts.loc[layer].sum()
    return float(counts.loc[layer, category] / total) if total else float("nan")


def _run(ctx: Context) -> Outcome:
    cfg = {"quick": QUICK, "full": Bau2017Config(), "paper": PAPER}[ctx.scale]
    data = scenes.scenes(cfg.records, seed=11, size=cfg.size)
    hyps = colour.HYPOTHESES + [scenes.shape, scenes.texture]
    figures, tables, files, rows, intervals, unique = {}, {}, [], [], {}, {}
    notes = [f"{len(data)} generated scenes (seed 11) at {cfg.size}×{cfg.size} pixels "
             f"({ctx.scale} scale); scene CNN: {dataclasses.asdict(cfg.scenecnn)}"]
    with one_thread():
        for name, (model, layers) in _models(cfg, ctx.progress, ctx.control).items():
            result = inspect(model, data, hyps, ["iou"], layers=list(layers), device=ctx.device,
                             progress=ctx.progress, seed=ctx.seed)
            concepts = dissect.unit_concepts(result, hyps)
            counts = dissect.detector_counts(concepts, CATEGORIES)
            tables[f"units_{name}"] = concepts
            figures[f"detectors.{name}"] = float(counts.values.sum())
            figures[f"shape_texture_detectors.{name}"] = float(
                counts[["shape", "texture"]].values.sum())
            figures[f"unique_concepts.{name}"] = float(
                concepts[concepts["detector"]][["category", "concept"]].drop_duplicates().shape[0])
            objects = concepts[concepts["detector"] & concepts["category"].isin(OBJECTS)]
            figures[f"unique_detectors.{name}"] = float(objects["concept"].nunique())
            unique[name] = _unique_draws(concepts, ctx.seed + len(unique))
            units = concepts.groupby("layer", sort=False).size()
            rows += [{"model": name, "layer": layer, "units": int(units[layer]),
                      **counts.loc[layer].to_dict()} for layer in counts.index]
            if name == "mobilenet_v2":
                for cat in ("colour", "shape"):
                    figures[f"{cat}_share.{cfg.early}"] = _share(counts, cfg.early, cat)
                    figures[f"{cat}_share.{cfg.late}"] = _share(counts, cfg.late, cat)
                figures["colour_share.early_minus_late"] = (
                    figures[f"colour_share.{cfg.early}"] - figures[f"colour_share.{cfg.late}"])
                figures["shape_share.late_minus_early"] = (
                    figures[f"shape_share.{cfg.late}"] - figures[f"shape_share.{cfg.early}"])
                for cat, first, second, key in (
                        ("colour", cfg.early, cfg.late, "colour_share.early_minus_late"),
                        ("shape", cfg.late, cfg.early, "shape_share.late_minus_early")):
                    intervals[key] = percentile(_share_draws(concepts, first, cat, ctx.seed)
                                                - _share_draws(concepts, second, cat,
                                                               ctx.seed + 1))
            if name == "mobilenet_v2":
                files.append(write_report(result, ctx.out / "site", models=model, data=data,
                                          hypotheses=hyps, records=cfg.records,
                                          max_units=cfg.site_units, device=ctx.device,
                                          progress=ctx.progress))
            if not name.endswith("-random"):
                files.append(grouped_bars(counts, ctx.out / f"detectors_{name}.png",
                                          f"{name}: detectors (IoU > 0.04) per layer", "units"))
                files += dissect.overlays(concepts, model, data, ctx.out / name, cfg.overlays,
                                          device=ctx.device) if cfg.overlays else []
            if name == "scenecnn":
                rec = model.record
                notes.append(f"scenecnn held-out accuracy: scene {rec['scene_accuracy']:.3f}, "
                             f"shapes present {rec['shape_accuracy']:.3f}")
    for net in ("mobilenet_v2", "scenecnn"):
        random = figures[f"shape_texture_detectors.{net}-random"]
        # a ratio only where the random net has a detector to divide by (NaN otherwise)
        figures[f"trained_over_random.{net}"] = (
            figures[f"shape_texture_detectors.{net}"] / random if random else float("nan"))
        figures[f"unique_gain.{net}"] = (figures[f"unique_detectors.{net}"]
                                         - figures[f"unique_detectors.{net}-random"])
        intervals[f"unique_gain.{net}"] = percentile(unique[net] - unique[f"{net}-random"])
    summary = pd.DataFrame(rows)
    tables["detector_counts"] = summary
    return Outcome(figures, tables, files, notes, summary, intervals=intervals)


BAU2017 = Study(
    name="bau2017",
    title="Network Dissection: units of trained CNNs detect colours early and objects late "
          "(Bau et al., 2017)",
    reference="D. Bau, B. Zhou, A. Khosla, A. Oliva, A. Torralba. Network Dissection: "
              "Quantifying Interpretability of Deep Visual Representations. CVPR 2017.",
    summary="Each unit's activation map is upsampled to the label grid and thresholded at its "
            "top 0.5% over the data set; its IoU with every concept's pixel mask is tallied over "
            "the data set and the unit is a detector of its best concept if that IoU exceeds "
            "0.04. Here: ImageNet MobileNetV2 (three depths) and a CNN trained on the generated "
            "scenes, each against the same network at a seeded random initialisation, on "
            "generated scenes with exact colour, shape and texture masks.",
    run=_run,
    controls=("untrained",),
    paper="2,000 scenes at 224 pixels, a 64-wide scene CNN trained on 20,000 scenes, on a GPU",
    claims=(
        Claim("trained_vs_random", "a trained network has more unique detectors (distinct "
              "shape and texture concepts) than the same architecture randomly initialised "
              "(MobileNetV2)", "unique_gain.mobilenet_v2", ">=", UNIQUE_GAIN,
              "random AlexNet: far fewer unique detectors (Fig. 9)"),
        Claim("trained_vs_random.scenecnn", "the same holds for the CNN trained on the scenes",
              "unique_gain.scenecnn", ">=", UNIQUE_GAIN, "Fig. 9"),
        Claim("colour_early", "colour detectors make up more of an early layer's detectors "
              "than of a late layer's", "colour_share.early_minus_late", ">", 0.0,
              "colour in conv1-2, objects in conv5 (Fig. 5)"),
        Claim("shape_late", "object (shape) detectors make up more of a late layer's "
              "detectors than of an early layer's", "shape_share.late_minus_early", ">", 0.0,
              "objects emerge in conv4-5 (Fig. 5)"),
    ),
    checks=(
        Claim("detectors_ratio", "the trained MobileNetV2 has at least twice the random one's "
              "shape and texture detectors (units; NaN when the random net has none)",
              "trained_over_random.mobilenet_v2", ">=", 2.0),
        Claim("detectors_ratio.scenecnn", "the same for the scene CNN",
              "trained_over_random.scenecnn", ">=", 1.5),
    ),
    deviations=(
        "Data: hyplib's generated scenes (exact masks: 11 colour terms named from the pixels, "
        "5 shapes as objects, 4 textures on objects) instead of Broden, whose download links "
        "have died; no parts, materials or real scenes. Broden itself works with HYPLIB_BRODEN.",
        "Networks: torchvision's ImageNet MobileNetV2 (IMAGENET1K_V1) at features.3/7/14 and a "
        "4-block CNN trained on the scenes, instead of AlexNet/VGG/GoogLeNet/ResNet on "
        "ImageNet/Places; 'random' is each architecture's own seeded initialisation.",
        "Trained vs random is judged on unique detectors (the paper's measure: distinct "
        "concepts with at least one detector) of shapes and textures: randomly initialised "
        "networks here have many colour detectors (a random filter still sums the colour "
        "channels), so counts including colour do not separate them. Each claim is judged "
        "on a 95% bootstrap interval over the network's units. The ratio of detector counts "
        "is a check, undefined (NaN) when the random network has no detector.",
        "Thresholds: top 0.5% per unit and IoU > 0.04, as the paper, from hyplib's one-pass IoU "
        "inspector (a streaming quantile estimate instead of a first pass); a unit counts for "
        "its single best concept, as the paper's unique-detector counts.",
        "Colour model: nearest of 11 CIELAB prototypes, not the paper's learnt colour names.",
    ),
    runtime="quick: about 15 CPU-seconds; full (200 scenes, four networks): about 4 "
            "CPU-minutes, one thread (13 minutes' wall time on a busy shared 2-core machine)",
)
