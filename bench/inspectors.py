"""hyplib's inspectors against the tools they replace, on a planted workload.

The workload is a seeded matrix of behaviours (``--symbols`` × ``--units``, float32) and labels
for ``--binary`` binary, ``--categorical`` few-class and ``--continuous`` continuous hypotheses,
plus one ``--probe-classes``-class hypothesis (``target``, linearly encoded in
``--probe-units`` units plus noise; counted among the categorical ones). Some units are planted:
each of the first hypotheses shifts two units, each continuous one is added to one unit.

(a) **Per-unit scores**: hyplib's ``Correlation`` (every unit × label column) and ``MutualInfo``
(every unit × binary/categorical hypothesis, 16 quantile bins) updating on ``--batch-size``
symbols at a time, then ``scores()``; against the "standard Python implementation" (DeepBase):
scipy ``pearsonr`` per (unit, column) and sklearn ``mutual_info_score`` per (unit, hypothesis)
on the same quantile bins (a unit's bins cut once, at the quantiles of its first ``warmup``
symbols, as hyplib does). The naive side is timed on ``--pearson-pairs`` / ``--mi-pairs`` random
pairs and ``--bin-units`` units and extrapolated to all of them; its values on those pairs are
checked against hyplib's.

(b) **Probe**: hyplib's ``probe`` inspector (streamed, then ``scores()``: the full probe, the
top-k and random-k probes, the intervals) against NeuroX's ``train_logistic_regression_probe``
+ ``evaluate_probe`` (its defaults: batch 32, Adam at 1e-3, 10 epochs; on units standardised
with the training split's mean and sd), both with ``lambda_l1 = lambda_l2 = 1e-5``, on the same
split (hyplib's hashed held-out 20%); both accuracies are on every held-out symbol.

Each part is repeated ``--repeats`` times, the two sides interleaved; medians are reported.
Peak memory per part: the process's peak RSS (``ru_maxrss``, reset before each part through
``/proc/self/clear_refs``) and the sizes of the torch tensors the inspectors keep. Writes
``bench/results/inspectors.md`` and ``.csv``.

    python bench/inspectors.py [--symbols 100000] [--units 1024] [--repeats 3] ...

NeuroX 1.0.9 pins ancient versions; install it beside the project, not into it:
``pip install --no-deps --target bench/.deps neurox==1.0.9 imbalanced-learn sklearn-compat``.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import io
import os
import platform
import resource
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats
from sklearn.metrics import mutual_info_score

import hyplib
from hyplib_inspectors import Correlation, MutualInfo, Probe
from hyplib_inspectors.streaming import held_out

OUT = Path(__file__).parent / "results"
DEPS = Path(__file__).parent / ".deps"
MI_BINS = 16


@dataclass(eq=False)
class Workload:
    x: np.ndarray              # symbols × units, float32
    y: np.ndarray              # symbols × label columns, float32 (categorical one-hot)
    hyps: list                 # hyplib.Hypothesis, in column order
    columns: list              # hyplib.LabelColumn per column of y
    discrete: np.ndarray       # indices of the columns of binary / categorical hypotheses
    classes: np.ndarray        # symbols × discrete hypotheses: each one's class index
    target: hyplib.Hypothesis  # the probe's hypothesis
    target_classes: np.ndarray  # symbols: its class index
    planted: dict              # hypothesis name -> planted unit indices

    @functools.cache
    def by_unit(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unit-major contiguous copies of x, y and classes, as a per-unit loop would keep
        them (a column of the symbol-major matrix is strided, which makes scipy ~15× slower)."""
        return (np.ascontiguousarray(self.x.T), np.ascontiguousarray(self.y.T),
                np.ascontiguousarray(self.classes.T))


def workload(symbols: int, units: int, n_binary: int, n_categorical: int, n_continuous: int,
             probe_classes: int, probe_units: int, seed: int) -> Workload:
    """The seeded planted workload (see the module's docstring)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((symbols, units), dtype=np.float32)
    x *= rng.uniform(0.5, 3, units).astype(np.float32)
    x += (rng.standard_normal(units) * 5).astype(np.float32)
    hyps, blocks, classes = [], [], []
    free = iter(rng.permutation(units).tolist())
    planted: dict[str, list[int]] = {}
    target = hyplib.Hypothesis("target", lambda b: b, kind="categorical",
                               classes=tuple(f"c{i}" for i in range(probe_classes)))
    t = rng.integers(0, probe_classes, symbols)
    where = [next(free) for _ in range(probe_units)]
    means = rng.standard_normal((probe_classes, probe_units)) * 1.5
    x[:, where] = (means[t] + 0.6 * rng.standard_normal((symbols, probe_units))).astype(np.float32)
    planted["target"] = where
    hyps.append(target)
    blocks.append(np.eye(probe_classes, dtype=np.float32)[t])
    classes.append(t)
    for i in range(n_binary + n_categorical - 1):
        if i < n_binary:
            h = hyplib.Hypothesis(f"binary{i}", lambda b: b, kind="binary")
            c = (rng.random(symbols) < rng.uniform(0.05, 0.5)).astype(np.int64)
            block = c[:, None].astype(np.float32)
        else:
            k = int(rng.integers(3, 6))
            h = hyplib.Hypothesis(f"categorical{i - n_binary}", lambda b: b, kind="categorical",
                                  classes=tuple(f"c{j}" for j in range(k)))
            c = rng.choice(k, symbols, p=rng.dirichlet(np.full(k, 2.0)))
            block = np.eye(k, dtype=np.float32)[c]
        if i % 2 == 0:  # plant half of them: two units shifted by a class effect
            effect = rng.standard_normal(int(c.max()) + 1) * rng.uniform(0.3, 1.5)
            where = [next(free) for _ in range(2)]
            x[:, where] += (effect[c] * x[:, where].std(0).mean()).astype(np.float32)[:, None]
            planted[h.name] = where
        hyps.append(h)
        blocks.append(block)
        classes.append(c)
    for i in range(n_continuous):
        h = hyplib.Hypothesis(f"continuous{i}", lambda b: b, kind="continuous")
        v = rng.standard_normal(symbols).astype(np.float32)
        u = next(free)
        x[:, u] += 2 * v
        planted[h.name] = [u]
        hyps.append(h)
        blocks.append(v[:, None])
    columns = [c for h in hyps for c in h.columns]
    discrete = np.array([j for j, c in enumerate(columns) if c.hypothesis.kind != "continuous"])
    return Workload(x, np.ascontiguousarray(np.concatenate(blocks, 1)), hyps, columns,
                    discrete, np.stack(classes, 1), target, t, planted)


# --------------------------------------------------------------------------- memory

def reset_peak() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux ``clear_refs``)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def tensor_mib(obj) -> float:
    """The size of every tensor in a (nested) state dict."""
    if torch.is_tensor(obj):
        return obj.numel() * obj.element_size() / 2 ** 20
    if isinstance(obj, dict):
        return sum(tensor_mib(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(tensor_mib(v) for v in obj)
    return 0.0


# --------------------------------------------------------------------------- (a)

def hyplib_scores(w: Workload, batch: int) -> tuple[float, dict, Correlation, MutualInfo]:
    """Correlation + MutualInfo over the whole matrix in batches; seconds and a breakdown."""
    start = time.perf_counter()
    units = w.x.shape[1]
    corr = Correlation(units, w.columns, "cpu")
    mi = MutualInfo(units, [w.columns[j] for j in w.discrete], "cpu", bins=MI_BINS)
    disc = torch.from_numpy(w.discrete)
    spent = {"correlation_update": 0.0, "mutual_info_update": 0.0}
    for lo in range(0, w.x.shape[0], batch):
        x, y = torch.from_numpy(w.x[lo:lo + batch]), torch.from_numpy(w.y[lo:lo + batch])
        t0 = time.perf_counter()
        corr.update(x, y)
        t1 = time.perf_counter()
        mi.update(x, y.index_select(1, disc))
        spent["correlation_update"] += t1 - t0
        spent["mutual_info_update"] += time.perf_counter() - t1
    t0 = time.perf_counter()
    corr.scores()
    t1 = time.perf_counter()
    mi.scores()
    spent["correlation_scores"] = t1 - t0
    spent["mutual_info_scores"] = time.perf_counter() - t1
    return time.perf_counter() - start, spent, corr, mi


def naive_scores(w: Workload, pearson_pairs: int, mi_pairs: int, bin_units: int, warmup: int,
                 seed: int) -> tuple[dict, dict]:
    """Per-pair scipy / sklearn on random subsets; per-pair seconds and the values computed."""
    rng = np.random.default_rng(seed)
    xt, yt, ct = w.by_unit()
    units, cols, hyps = len(xt), len(yt), len(ct)
    levels = np.arange(1, MI_BINS) / MI_BINS
    seconds, values = {}, {"pearson": [], "mi": []}

    def bins_of(u):  # the unit's 16 quantile bins, edges from its first `warmup` symbols
        edges = np.quantile(xt[u, :warmup].astype(np.float64), levels).astype(np.float32)
        return np.searchsorted(np.maximum.accumulate(edges), xt[u], side="left")

    start = time.perf_counter()
    for _ in range(pearson_pairs):
        u, c = int(rng.integers(units)), int(rng.integers(cols))
        values["pearson"].append((u, c, stats.pearsonr(xt[u], yt[c]).statistic))
    seconds["pearson_pair"] = (time.perf_counter() - start) / pearson_pairs

    picked = rng.choice(units, bin_units, replace=False)
    start = time.perf_counter()
    binned = {int(u): bins_of(u) for u in picked}
    seconds["bin_unit"] = (time.perf_counter() - start) / bin_units

    start = time.perf_counter()
    for i in range(mi_pairs):
        u, h = int(picked[i % bin_units]), int(rng.integers(hyps))
        values["mi"].append((u, h, mutual_info_score(binned[u], ct[h])))
    seconds["mi_pair"] = (time.perf_counter() - start) / mi_pairs
    seconds["total"] = (seconds["pearson_pair"] * units * cols + seconds["bin_unit"] * units
                        + seconds["mi_pair"] * units * hyps)
    return seconds, values


def part_a(w: Workload, args) -> tuple[list[dict], dict]:
    units, cols, hyps = w.x.shape[1], w.y.shape[1], w.classes.shape[1]
    reset_peak()
    base = rss_mib()
    threads = list(dict.fromkeys([torch.get_num_threads(), *args.also_threads]))
    hyplib_scores(w, args.batch_size)  # warm-up (allocator, thread pool, first-call paths)
    w.by_unit()  # the naive side's unit-major copies, made before its timing
    runs = []  # per repeat: {threads: (seconds, breakdown)}, naive seconds
    for rep in range(args.repeats):
        hyp = {}
        for n in threads:
            with torch_threads(n):
                t, spent, corr, mi = hyplib_scores(w, args.batch_size)
            hyp[n] = (t, spent)
        naive, values = naive_scores(w, args.pearson_pairs, args.mi_pairs, args.bin_units,
                                     args.warmup, args.seed + rep)
        runs.append((hyp, naive))
        print(f"(a) repeat {rep + 1}: naive {naive['total']:.0f} s extrapolated "
              f"(pearsonr {naive['pearson_pair'] * 1e3:.2f} ms/pair, binning "
              f"{naive['bin_unit'] * 1e3:.1f} ms/unit, mutual_info_score "
              f"{naive['mi_pair'] * 1e3:.2f} ms/pair); "
              + "; ".join(f"hyplib with {n} thread(s) {t:.2f} s ("
                          + ", ".join(f"{k} {v:.2f}" for k, v in spent.items())
                          + f"): {naive['total'] / t:.0f}×" for n, (t, spent) in hyp.items()),
              flush=True)
    peak = peak_mib()
    # the two sides agree on the pairs the naive side computed
    r = corr.scores().score.numpy()
    mi_plugin = mi.scores()[1].score.numpy()
    err_r = max(abs(r[u, c] - v) for u, c, v in values["pearson"])
    err_mi = max(abs(mi_plugin[u, h] - v) for u, h, v in values["mi"])
    # planted units come first: the top unit by MI per planted discrete hypothesis
    top_mi = mi.scores()[0].score.argmax(0).numpy()
    hyp_index = {h.name: i for i, h in enumerate(h for h in w.hyps if h.kind != "continuous")}
    found = [int(top_mi[hyp_index[n]]) in u for n, u in w.planted.items() if n in hyp_index]

    med = statistics.median
    t_naive = med(n["total"] for _, n in runs)
    state = {"correlation": tensor_mib(corr.state_dict()),
             "mutual_info": tensor_mib(mi.state_dict())}
    batch_mib = args.batch_size * (units + cols) * 4 / 2 ** 20
    corr_tmp = args.batch_size * units * 8 * 2 / 2 ** 20  # x.double(), x - mean
    mi_tmp = min(args.batch_size, (1 << 22) // units) * units * 14 / 2 ** 20
    pairs_r, pairs_mi = units * cols, units * hyps
    rows, summary = [], {}
    for n in threads:
        t_hyp = med(h[n][0] for h, _ in runs)
        ratio = med(naive["total"] / h[n][0] for h, naive in runs)
        summary[n] = ratio
        rows.append(
            {"part": "a", "implementation": f"hyplib Correlation + MutualInfo, {n} torch "
                                            f"thread{'s' if n > 1 else ''}",
             "what": f"{pairs_r:,} (unit, column) r + {pairs_mi:,} (unit, hypothesis) MI, "
                     f"batches of {args.batch_size:,}",
             "seconds": round(t_hyp, 2),
             "seconds_per_repeat": " ".join(f"{h[n][0]:.2f}" for h, _ in runs),
             "ratio": round(ratio, 1), "accuracy": None,
             "peak_rss_mib": round(peak), "rss_before_mib": round(base),
             "tensor_mib": round(sum(state.values()), 1),
             "notes": ", ".join(f"{k} {med(h[n][1][k] for h, _ in runs):.2f} s"
                                for k in runs[0][0][n][1])
                      + f"; state: correlation {state['correlation']:.1f} MiB, mutual_info "
                        f"{state['mutual_info']:.1f} MiB; per batch: input {batch_mib:.0f} MiB, "
                        f"correlation's float64 copies ~{corr_tmp:.0f} MiB, mutual_info's "
                        f"masks and bin indices ~{mi_tmp:.0f} MiB; max |r - pearsonr| "
                        f"{err_r:.1e}, max |MI - mutual_info_score| {err_mi:.1e}; a planted "
                        f"unit ranked first by MI for {sum(found)}/{len(found)} planted "
                        "hypotheses"})
    rows.append(
        {"part": "a", "implementation": "naive: scipy pearsonr + sklearn mutual_info_score "
                                        "per pair, one core",
         "what": f"timed on {args.pearson_pairs} pearsonr pairs, {args.mi_pairs} "
                 f"mutual_info_score pairs and binning {args.bin_units} units, extrapolated "
                 f"to {pairs_r:,} + {pairs_mi:,} pairs and {units:,} units",
         "seconds": round(t_naive, 1),
         "seconds_per_repeat": " ".join(f"{n['total']:.0f}" for _, n in runs),
         "ratio": 1.0, "accuracy": None, "peak_rss_mib": round(peak),
         "rss_before_mib": round(base), "tensor_mib": 0.0,
         "notes": f"pearsonr {med(n['pearson_pair'] for _, n in runs) * 1e3:.2f} ms/pair; "
                  f"binning {med(n['bin_unit'] for _, n in runs) * 1e3:.1f} ms/unit; "
                  f"mutual_info_score {med(n['mi_pair'] for _, n in runs) * 1e3:.2f} ms/pair; "
                  f"on unit-major copies of the matrices ({w.x.nbytes / 2 ** 20:.0f} MiB more "
                  "RAM), made before timing"})
    return rows, summary


@contextlib.contextmanager
def torch_threads(n: int):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --------------------------------------------------------------------------- (b)

def import_neurox():
    """NeuroX's linear_probe module, from ``bench/.deps``; or the reason it does not import."""
    sys.path.insert(0, str(DEPS))
    try:
        with warnings_off():
            from neurox.interpretation import linear_probe
        return linear_probe, None
    except Exception as e:  # noqa: BLE001 - reported, not hidden
        return None, f"{type(e).__name__}: {e}"


@contextlib.contextmanager
def warnings_off():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def hyplib_probe(w: Workload, test: np.ndarray, batch: int, train_size: int):
    start = time.perf_counter()
    probe = Probe(w.x.shape[1], w.target.columns, "cpu", train_size=train_size,
                  test_size=int(test.sum()))
    y = torch.from_numpy(np.ascontiguousarray(w.y[:, :len(w.target.classes)]))
    for lo in range(0, w.x.shape[0], batch):
        probe.update(torch.from_numpy(w.x[lo:lo + batch]), y[lo:lo + batch])
    scores = {s.metric: s for s in probe.scores()}
    seconds = time.perf_counter() - start
    return seconds, scores["accuracy"].score.item(), scores["accuracy"].n.item(), probe


def neurox_probe(linear_probe, w: Workload, test: np.ndarray, epochs: int, l1: float, l2: float):
    start = time.perf_counter()
    xtr, xte = w.x[~test], w.x[test]
    mean, sd = xtr.mean(0), xtr.std(0)
    xtr, xte = (xtr - mean) / sd, (xte - mean) / sd
    ytr, yte = w.target_classes[~test], w.target_classes[test]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        probe = linear_probe.train_logistic_regression_probe(
            xtr, ytr, lambda_l1=l1, lambda_l2=l2, num_epochs=epochs)
        result = linear_probe.evaluate_probe(probe, xte, yte)
    return time.perf_counter() - start, float(result["__OVERALL__"]), len(yte), probe


def part_b(w: Workload, args) -> tuple[list[dict], dict]:
    n = w.x.shape[0]
    test = held_out(torch.arange(n), 0, 0.2).numpy()
    linear_probe, why = import_neurox()
    reset_peak()
    base = rss_mib()
    hyplib_probe(w, test, args.batch_size, args.probe_train_size)  # warm-up
    hyp_runs, neurox_runs = [], []
    for rep in range(args.repeats):
        t, acc, n_test, probe = hyplib_probe(w, test, args.batch_size, args.probe_train_size)
        hyp_runs.append((t, acc))
        line = f"(b) repeat {rep + 1}: hyplib probe {t:.2f} s, accuracy {acc:.4f}"
        if linear_probe is not None and rep < args.neurox_repeats:
            tn, accn, _, nprobe = neurox_probe(linear_probe, w, test, args.epochs, 1e-5, 1e-5)
            neurox_runs.append((tn, accn))
            line += f"; NeuroX {tn:.2f} s, accuracy {accn:.4f}: {tn / t:.1f}×"
        print(line, flush=True)
    peak = peak_mib()
    med = statistics.median
    t_hyp, acc_hyp = med(r[0] for r in hyp_runs), med(r[1] for r in hyp_runs)
    k = len(w.target.classes)
    state = tensor_mib(probe.state_dict())
    common = (f"{k} classes in {len(w.planted['target'])} units + noise; {int((~test).sum()):,} "
              f"training / {int(test.sum()):,} held-out symbols (hashed split, seed 0)")
    rows = [{"part": "b", "implementation": "hyplib probe",
             "what": common + f"; streamed in batches of {args.batch_size:,}, minibatch 256, "
                     f"then {args.epochs} epochs over a {args.probe_train_size:,}-symbol "
                     "reservoir; scores() includes the top-k / random-k probes",
             "seconds": round(t_hyp, 3),
             "seconds_per_repeat": " ".join(f"{r[0]:.2f}" for r in hyp_runs),
             "ratio": None, "accuracy": round(acc_hyp, 4), "peak_rss_mib": round(peak),
             "rss_before_mib": round(base), "tensor_mib": round(state, 1),
             "notes": f"state (reservoirs, weights, Adam moments) {state:.1f} MiB"}]
    summary = {"ratio": None}
    if linear_probe is None:
        rows.append({"part": "b", "implementation": "NeuroX 1.0.9", "what": common,
                     "seconds": None, "ratio": None, "accuracy": None,
                     "notes": f"does not import: {why}"})
        return rows, summary
    t_nx, acc_nx = med(r[0] for r in neurox_runs), med(r[1] for r in neurox_runs)
    ratio = med(nx[0] / hy[0] for nx, hy in zip(neurox_runs, hyp_runs))
    rows[0]["ratio"] = round(ratio, 1)
    weights = tensor_mib(list(nprobe.state_dict().values()))
    rows.append({"part": "b", "implementation": "NeuroX 1.0.9 train_logistic_regression_probe",
                 "what": common + f"; batch 32, Adam lr 1e-3, {args.epochs} epochs over every "
                         "training symbol, standardised first",
                 "seconds": round(t_nx, 3),
                 "seconds_per_repeat": " ".join(f"{r[0]:.2f}" for r in neurox_runs),
                 "ratio": 1.0, "accuracy": round(acc_nx, 4), "peak_rss_mib": round(peak),
                 "rss_before_mib": round(base), "tensor_mib": round(weights, 2),
                 "notes": f"weights {weights:.2f} MiB; holds the standardised train and "
                          f"held-out matrices in RAM ({w.x.nbytes / 2 ** 20:.0f} MiB)"})
    summary.update(ratio=ratio, acc_hyp=acc_hyp, acc_nx=acc_nx)
    return rows, summary


# --------------------------------------------------------------------------- main

def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in
                   Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}; {os.cpu_count()} CPUs, torch {torch.__version__} with "
            f"{torch.get_num_threads()} threads; numpy {np.__version__}; Python "
            f"{platform.python_version()}; load average {os.getloadavg()[0]:.1f} at the end "
            "(the machine is shared)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--symbols", type=int, default=100_000)
    p.add_argument("--units", type=int, default=1024)
    p.add_argument("--binary", type=int, default=30)
    p.add_argument("--categorical", type=int, default=20,
                   help="few-class hypotheses, the probe's target among them")
    p.add_argument("--continuous", type=int, default=5)
    p.add_argument("--probe-classes", type=int, default=10)
    p.add_argument("--probe-units", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=8192)
    p.add_argument("--warmup", type=int, default=16384, help="MutualInfo's default")
    p.add_argument("--pearson-pairs", type=int, default=300, help="naive pairs actually timed")
    p.add_argument("--mi-pairs", type=int, default=100, help="naive pairs actually timed")
    p.add_argument("--bin-units", type=int, default=20, help="naive units binned, timed")
    p.add_argument("--epochs", type=int, default=10, help="both probes")
    p.add_argument("--probe-train-size", type=int, default=20_000,
                   help="hyplib probe's training reservoir (its default)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--also-threads", type=int, nargs="*", default=[1],
                   help="(a) also times hyplib with these torch thread counts")
    p.add_argument("--neurox-repeats", type=int, default=3)
    p.add_argument("--parts", default="ab")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.categorical < 1:
        p.error("--categorical must be at least 1 (the probe's target is one of them)")

    start = time.perf_counter()
    w = workload(args.symbols, args.units, args.binary, args.categorical, args.continuous,
                 args.probe_classes, args.probe_units, args.seed)
    print(f"workload: {w.x.shape[0]:,} symbols × {w.x.shape[1]:,} units, {w.y.shape[1]} label "
          f"columns ({len(w.hyps)} hypotheses), made in {time.perf_counter() - start:.1f} s",
          flush=True)
    rows, summary = [], {}
    if "a" in args.parts:
        r, summary["a"] = part_a(w, args)
        rows += r
    if "b" in args.parts:
        r, summary["b"] = part_b(w, args)
        rows += r

    table = pd.DataFrame(rows)
    command = "python bench/inspectors.py " + " ".join(sys.argv[1:] if argv is None else argv)
    table.insert(0, "command", command.strip())
    OUT.mkdir(exist_ok=True)
    table.to_csv(OUT / "inspectors.csv", index=False)
    kinds = {k: sum(h.kind == k for h in w.hyps) for k in ("binary", "categorical", "continuous")}
    lines = [
        "# Inspectors: hyplib vs per-unit scipy/sklearn loops and vs NeuroX's probe",
        "",
        f"Command: `{command.strip()}`",
        "",
        f"Machine: {machine()}.",
        "",
        f"Workload: {w.x.shape[0]:,} symbols × {w.x.shape[1]:,} units (float32, "
        f"{w.x.nbytes / 2 ** 20:.0f} MiB), {kinds['binary']} binary + {kinds['categorical']} "
        f"categorical (3–5 classes, and the {args.probe_classes}-class probe target) + "
        f"{kinds['continuous']} continuous hypotheses = {w.y.shape[1]} label columns; "
        f"{len(w.planted)} hypotheses planted in units. Seed {args.seed}. Times are medians of "
        f"{args.repeats} repeats (after one warm-up run of the hyplib side); the two sides of "
        "each part are interleaved; ratio = the other side's time / hyplib's.",
        "",
    ]
    if "a" in summary:
        lines.append("**(a)** hyplib is " + ", ".join(
            f"**{ratio:.0f}×** faster with {n} torch thread{'s' if n > 1 else ''}"
            for n, ratio in summary["a"].items())
            + " than the per-pair scipy/sklearn loop (target ≥ 200×).")
    if summary.get("b", {}).get("ratio"):
        b = summary["b"]
        lines.append(f"**(b)** hyplib's probe is **{b['ratio']:.1f}×** faster than NeuroX's "
                     f"(target ≥ 5×), held-out accuracy {b['acc_hyp']:.4f} vs "
                     f"{b['acc_nx']:.4f}.")
    cols = ["part", "implementation", "seconds", "ratio", "accuracy", "peak_rss_mib",
            "rss_before_mib", "tensor_mib", "what", "notes"]
    lines += ["", "Peak RSS is the process's peak during that part (reset before it); the "
              "workload itself is resident throughout (`rss_before_mib`). `tensor_mib` is what "
              "the inspector keeps (its state dict) or the probe's weights.", "",
              table[[c for c in cols if c in table]].to_markdown(index=False), "",
              f"Per repeat (s): " + "; ".join(f"{r['implementation']}: "
                                              f"{r.get('seconds_per_repeat', '')}" for r in rows),
              ""]
    (OUT / "inspectors.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
