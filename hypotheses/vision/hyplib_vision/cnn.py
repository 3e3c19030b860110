"""A small CNN trained deterministically on the generated scenes.

Four conv blocks (``features.0`` .. ``features.3``: conv 3×3, batch norm, ReLU, 2×2 max pool
but the last) and a head that predicts the scene (5 classes) and which shapes are present
(5 binary outputs). Training is seeded and single-threaded-safe; the checkpoint is cached under
hyplib's cache by a hash of the recipe, like :mod:`hyplib_zoo.charlm`.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from hyplib import ImageModel, ModelRecipe
from hyplib.study import checkpoint

from . import scenes as sc

RECIPE_VERSION = 1
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


@dataclass(frozen=True)
class SceneCNNConfig:
    """The recipe; every field goes into the cache key."""

    width: int = 32
    size: int = 64
    train_images: int = 3000
    epochs: int = 4
    batch: int = 32
    lr: float = 3e-3
    seed: int = 0


class SceneCNN(nn.Module):
    def __init__(self, cfg: SceneCNNConfig):
        super().__init__()
        w = cfg.width
        sizes = [3, w // 2, w, 2 * w, 2 * w]

        def block(a, b, pool):
            return nn.Sequential(nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU(),
                                 *([nn.MaxPool2d(2)] if pool else []))

        self.features = nn.Sequential(*(block(a, b, i < 3)
                                        for i, (a, b) in enumerate(zip(sizes, sizes[1:]))))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(sizes[-1], len(sc.SCENES) + len(sc.SHAPES) - 1))

    def forward(self, x):
        return self.head(self.features(x))


def _targets(data) -> tuple[torch.Tensor, torch.Tensor]:
    scene = torch.tensor(data["scene"])
    present = torch.tensor([[s in objs for s in sc.SHAPES[1:]] for objs in data["objects"]],
                           dtype=torch.float32)
    return scene, present


def train(cfg: SceneCNNConfig, progress: bool = True) -> tuple[SceneCNN, dict]:
    """Train on scenes 0..train_images of seed 1 (the default ``scenes`` set is seed 0)."""
    torch.manual_seed(cfg.seed)
    model = SceneCNN(cfg)
    wrap = ImageModel("scenecnn", model, cfg.size, MEAN, STD)
    data = sc.scenes(cfg.train_images, seed=1, size=cfg.size)
    x = wrap.encode(list(data["image"])).inputs["pixels"]
    scene, present = _targets(data)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    steps = cfg.epochs * (len(x) // cfg.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=steps)
    gen = torch.Generator().manual_seed(cfg.seed)
    start = time.perf_counter()
    model.train()
    bar = tqdm(total=steps, desc="train scenecnn", disable=not progress, unit="step")
    for _ in range(cfg.epochs):
        order = torch.randperm(len(x), generator=gen)
        for lo in range(0, len(x) - cfg.batch + 1, cfg.batch):
            idx = order[lo:lo + cfg.batch]
            out = model(x[idx])
            loss = (nn.functional.cross_entropy(out[:, :len(sc.SCENES)], scene[idx])
                    + nn.functional.binary_cross_entropy_with_logits(out[:, len(sc.SCENES):],
                                                                     present[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    bar.close()
    model.eval()
    return model, {"train_seconds": time.perf_counter() - start, "final_loss": loss.item(),
                   **accuracy(wrap, sc.scenes(500, seed=2, size=cfg.size))}


@torch.inference_mode()
def accuracy(model: ImageModel, data) -> dict:
    """Held-out scene accuracy and shape-presence accuracy (per shape, thresholded at 0)."""
    out = model.module(model.encode(list(data["image"])).inputs["pixels"])
    scene, present = _targets(data)
    return {"scene_accuracy": (out[:, :len(sc.SCENES)].argmax(1) == scene).float().mean().item(),
            "shape_accuracy": ((out[:, len(sc.SCENES):] > 0) == present.bool())
            .float().mean().item()}


def load(cfg: SceneCNNConfig | None = None, name: str = "scenecnn", progress: bool = True,
         trained: bool = True, **overrides) -> ImageModel:
    """The trained CNN (from the cache, or trained now and cached atomically); with
    ``trained=False`` the same network at its seeded initialisation."""
    cfg = dataclasses.replace(cfg or SceneCNNConfig(), **overrides)
    torch.manual_seed(cfg.seed)
    module, record = SceneCNN(cfg), {}
    if trained:
        def fresh() -> dict:
            trained_module, trained_record = train(cfg, progress)
            return {"state_dict": trained_module.state_dict(), "record": trained_record,
                    "config": dataclasses.asdict(cfg)}

        saved, _ = checkpoint("scenecnn", [RECIPE_VERSION, sc.VERSION, dataclasses.asdict(cfg)],
                              fresh)
        module.load_state_dict(saved["state_dict"])
        record = saved["record"]
    model = ImageModel(name, module, cfg.size, MEAN, STD,
                       tuple(f"features.{i}" for i in range(len(module.features))))
    model.record, model.config = record, cfg
    return model


TINY = SceneCNNConfig(width=8, size=32, train_images=200, epochs=1)
RECIPES = [
    ModelRecipe("scenecnn", lambda **kw: load(name="scenecnn", **kw),
                "4-block CNN trained on the generated scenes (scene + shapes present)"),
    ModelRecipe("scenecnn-tiny", lambda **kw: load(TINY, name="scenecnn-tiny", **kw),
                "the scenecnn recipe at a tiny size, for tests (seconds)"),
]

