"""Dissecting one MobileNetV2 layer against every vision concept: images/s and peak memory.

On the generated scenes (112 × 112 label grids, annotations cached beforehand) it times the
bare forward pass (no hooks) and hyplib's ``inspect`` with the IoU inspector over all
pixel-level concepts (colours, shapes, textures) and the image-level scene, one layer, and
reports images/s (wall clock and per CPU-second: the machine may be shared), the upsampled
pixels/s and the process's peak RSS. Writes ``bench/results/vision.md`` and ``.csv``.

    python bench/vision.py [--records 200] [--layer features.14] [--device cpu]
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import pandas as pd
import torch
from hyplib_vision import colour, scenes
from hyplib_vision.classifiers import torchvision_model
from machine import machine, stem

from hyplib.annotation import annotate
from hyplib import PRECISIONS, inspect, model_precision, pick_device

OUT = Path(__file__).parent / "results"


def forward_only(model, data, batch_size, dev, precision) -> float:
    start = time.perf_counter()
    with torch.inference_mode(), model_precision(precision, dev):
        for lo in range(0, len(data), batch_size):
            model.forward(model.encode(data[lo:lo + batch_size]["image"]), dev)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=200)
    p.add_argument("--layer", default="features.14")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--precision", default="float32", choices=list(PRECISIONS))
    p.add_argument("--name", help="results file stem (default vision, or vision-cuda on CUDA)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    dev = pick_device(args.device)
    name = stem("vision", dev, args.name)
    data = scenes.scenes(args.records, seed=7)
    hyps = colour.HYPOTHESES + scenes.HYPOTHESES
    annotate(data, hyps, progress=False)
    model = torchvision_model("mobilenet_v2").to(dev)
    prec = args.precision
    warm = data.select(range(min(2 * args.batch_size, len(data))))
    forward_only(model, warm, args.batch_size, dev, prec)
    fwd = forward_only(model, data, args.batch_size, dev, prec)

    def run(records):
        return inspect(model, records, hyps, ["iou"], layers=[args.layer], precision=prec,
                       batch_size=args.batch_size, device=dev, progress=False)

    run(warm)  # warm-up: kernels, the annotation cache
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = run(data)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    n = len(data)
    units = int(result.table["unit"].max()) + 1
    pixels = result.meta["symbols"]["pixel"]
    row = {
        "model": "mobilenet_v2 (IMAGENET1K_V1)", "layer": args.layer, "units": units,
        "records": n, "label_grid": "112×112", "pixels": pixels,
        "label_columns": sum(len(h.columns) for h in hyps), "inspector": "iou",
        "precision": prec, "batch_size": args.batch_size,
        "forward_images_per_s": round(n / fwd, 1),
        "inspect_s": round(wall, 1), "inspect_cpu_s": round(cpu, 1),
        "images_per_s": round(n / wall, 2), "images_per_cpu_s": round(n / cpu, 2),
        "pixel_units_per_s": f"{pixels * units / wall:.3g}",
        "inspect_over_forward": round(wall / fwd, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        **machine(dev),
    }
    OUT.mkdir(exist_ok=True)
    table = pd.Series(row, name="value").to_frame()
    pd.DataFrame([row]).to_csv(OUT / f"{name}.csv", index=False)
    command = "python bench/vision.py " + " ".join(argv if argv is not None else sys.argv[1:])
    (OUT / f"{name}.md").write_text(
        "# Vision: dissecting one MobileNetV2 layer against every concept\n\n"
        f"Command: `{command.strip()}`\n\n{table.to_markdown()}\n\n"
        "`forward_images_per_s`: the bare forward pass at 224 × 224, no hooks. `images_per_s`: "
        "`hyplib.inspect` on the same images (forward, upsampling to the 112 × 112 label grid, "
        "IoU tallies for every unit × label column), annotations cached; `images_per_cpu_s` "
        "divides by the process's CPU time instead, which a shared machine distorts less. "
        "`peak_rss_mib`: the whole process's peak resident memory.\n")
    print(table.to_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
