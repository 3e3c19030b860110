"""NetDissect IoU at pixel scale, in one pass, on a planted stream.

hyplib's ``IoU`` over ``--pixels`` (2,000,000) seeded "pixels" × ``--units`` (1,024) units ×
``--concepts`` (20) binary concepts (each present at 0.2–3% of the pixels; unit ``j`` detects
concept ``j``: noise + 3 where present), generated and streamed in batches, as an image data
set's upsampled feature maps would be. It records the time, the inspector's state and the
process's RSS at each quarter of the stream (they stay flat: memory does not grow with the
pixels), and checks a few units against NetDissect's two-pass IoU (exact quantile, then
counts), computed on their columns regenerated in a second pass. Writes
``bench/results/iou.md`` and ``.csv``.

    python bench/iou.py [--pixels 2000000] [--units 1024] [--concepts 20]
"""
from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import hyplib
from hyplib.inspectors import IoU
from memory import machine, peak_mib, reset_peak, rss_mib, tensor_mib

OUT = Path(__file__).parent / "results"


def pixel_batches(args, checked: list[int] | None = None):
    """The seeded pixel stream: (units × concepts) batches, or with ``checked``
    only those units' columns; batch ``i`` has its own generator, so a second pass repeats it."""
    rates = torch.from_numpy(np.random.default_rng(args.seed).uniform(0.002, 0.03,
                                                                       args.concepts))
    for i, lo in enumerate(range(0, args.pixels, args.batch_size)):
        n = min(args.batch_size, args.pixels - lo)
        gen = torch.Generator().manual_seed(args.seed * 1_000_003 + i)
        y = (torch.rand(n, args.concepts, generator=gen, dtype=torch.float64) < rates).float()
        x = torch.randn(n, args.units, generator=gen)
        x[:, :args.concepts] += 3 * y
        yield (x, y) if checked is None else (x[:, checked].numpy().copy(), y.numpy() > 0.5)


def run(args) -> tuple[list[dict], list[str]]:
    units, concepts, total = args.units, args.concepts, args.pixels
    cols = [hyplib.Hypothesis(f"concept{j}", lambda b: b, kind="binary").columns[0]
            for j in range(concepts)]
    gc.collect()
    reset_peak()
    before = rss_mib()
    start = time.perf_counter()
    insp, seen, marks, spent = IoU(units, cols, "cpu"), 0, [], 0.0
    for x, y in pixel_batches(args):
        t0 = time.perf_counter()
        insp.update(x, y)
        spent += time.perf_counter() - t0
        seen += x.shape[0]
        if seen * 4 // total > len(marks):
            marks.append((seen, tensor_mib(insp.state_dict()), rss_mib() - before))
            print(f"(c) {seen:,} pixels: state {marks[-1][1]:.0f} MiB, RSS +{marks[-1][2]:.0f} "
                  f"MiB, {time.perf_counter() - start:.0f} s", flush=True)
    t0 = time.perf_counter()
    iou, detector = insp.scores()
    score_s = time.perf_counter() - t0
    seconds, peak = time.perf_counter() - start, peak_mib() - before

    checked = [0, 1, concepts // 2, units - 2, units - 1]
    parts = list(pixel_batches(args, checked))
    x, lab = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    a = x > np.quantile(x, insp.quantile, axis=0)
    exact = (a[:, :, None] & lab[:, None]).sum(0) / (a[:, :, None] | lab[:, None]).sum(0)
    got, low, high = (v.numpy()[checked] for v in (iou.score, iou.low, iou.high))
    inside = int(((low <= exact) & (exact <= high)).sum())
    top = iou.score[:, :concepts].argmax(0).numpy()
    found = int(sum(top[j] == j and detector.score[j, j] == 1 for j in range(concepts)))
    state = {"histogram": tensor_mib(insp.state_dict()["histogram"]),
             "sketch": tensor_mib(insp.state_dict()["sketch"])}
    rows = [{"implementation": "hyplib IoU, 1 pass", "seconds": round(seconds, 1),
             "update_seconds": round(spent, 1), "scores_seconds": round(score_s, 2),
             "pixels": total, "units": units, "concepts": concepts,
             "unit_pixels_per_second": round(total * units / spent),
             "state_mib": round(sum(state.values()), 1), "peak_over_start_mib": round(peak),
             "max_abs_error": float(np.abs(got - exact).max()),
             "exact_inside_interval": f"{inside}/{exact.size}",
             "planted_found": f"{found}/{concepts}",
             "rank_error_bound": round(insp.rank_error(), 1)}]
    tail = total * (1 - insp.quantile)
    lines = [
        f"IoU over {total:,} pixels × {units:,} units × {concepts} concepts in one pass: "
        f"{seconds:.0f} s ({spent:.0f} s in `update`, {total * units / spent / 1e6:.1f} M "
        f"unit-pixels/s; `scores()` {score_s:.2f} s). State {sum(state.values()):.0f} MiB "
        f"(histogram {state['histogram']:.0f}, sketch {state['sketch']:.0f}); peak RSS "
        f"{peak:.0f} MiB over the start. At each quarter of the stream: "
        + "; ".join(f"{n:,} pixels: state {m:.0f} MiB, RSS +{r:.0f} MiB" for n, m, r in marks)
        + ".",
        f"Against NetDissect's two-pass IoU (exact {insp.quantile} quantile, then counts) on "
        f"units {checked} × {concepts} concepts: max |IoU - exact| {np.abs(got - exact).max():.1e}, "
        f"exact value inside the 95% interval for {inside}/{exact.size}; the unit planted for a "
        f"concept is its top unit and a detector for {found}/{concepts} concepts. The sketch's "
        f"rank-error bound (99%) is {insp.rank_error():,.0f} ranks, "
        f"{insp.rank_error() / tail:.1%} of the {tail:,.0f} pixels above the threshold (the "
        "histogram pins the threshold's bin exactly).",
    ]
    return rows, lines


def write_iou(rows: list[dict], lines: list[str], command: str, took: float) -> None:
    table = pd.DataFrame(rows)
    table.insert(0, "command", command)
    table["machine"] = machine()
    table.to_csv(OUT / "iou.csv", index=False)
    text = ["# Inspectors: NetDissect IoU at pixel scale, one pass", "",
            f"Command: `{command}` (took {took:.0f} s)", "", f"Machine: {machine()}.", "",
            *lines, "", table.drop(columns=["command", "machine"]).to_markdown(index=False), ""]
    (OUT / "iou.md").write_text("\n".join(text))
    print("\n".join(text))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pixels", type=int, default=2_000_000)
    p.add_argument("--units", type=int, default=1024)
    p.add_argument("--concepts", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=8192)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    command = ("python bench/iou.py " + " ".join(sys.argv[1:] if argv is None else argv)).strip()
    OUT.mkdir(exist_ok=True)
    start = time.perf_counter()
    write_iou(*run(args), command, time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
