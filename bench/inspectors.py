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
top-10 and random-10 probes, the intervals) against NeuroX's ``train_logistic_regression_probe``
+ ``evaluate_probe`` (its defaults: batch 32, Adam at 1e-3, ``--neurox-epochs`` 10; on units
standardised with the training split's mean and sd, timed), both with ``lambda_l1 = lambda_l2
= 1e-5``, on the same split (hyplib's hashed held-out 20%); both accuracies are on every
held-out symbol. hyplib runs twice: with its defaults (a training reservoir of 96 symbols per
unit, here every training symbol, and about 1,600 minibatch steps of final fit, here 5 epochs),
and with a ``--probe-small-reservoir`` (20,000) symbol reservoir, its earlier default, to show
what too few symbols per weight cost.

(c), IoU at pixel scale, is ``bench/iou.py``.

Parts (a) and (b) are repeated ``--repeats`` times, the sides interleaved; medians are reported. The
torch code runs with torch's default thread count and with each of ``--also-threads`` (1).
``OMP_WAIT_POLICY`` defaults to ``PASSIVE`` (see below). Peak memory per implementation: the
process's peak RSS during its runs (``ru_maxrss``, reset before each run through
``/proc/self/clear_refs``), and the sizes of the torch tensors the inspectors keep. Writes
``bench/results/inspectors.md`` and ``.csv``.

    python bench/inspectors.py [--symbols 100000] [--units 1024] [--repeats 3] ...

NeuroX 1.0.9 pins ancient versions; install it beside the project, not into it:
``pip install --no-deps --target bench/.deps neurox==1.0.9 imbalanced-learn sklearn-compat``.
"""
from __future__ import annotations

import os

# libgomp's threads spin while they wait; on a shared machine, when another process holds a
# core, a 2-thread torch op then waits out whole scheduler slices (10-20× slower here)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# every side on one thread: torch, numpy's BLAS, scipy (the core ratios compare one core each)
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402 - after the environment is set for torch's OpenMP
import contextlib  # noqa: E402
import functools  # noqa: E402
import gc  # noqa: E402
import io  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from memory import machine, peak_mib, reset_peak, rss_mib, tensor_mib  # noqa: E402
from scipy import stats  # noqa: E402
from sklearn.metrics import mutual_info_score  # noqa: E402

import hyplib  # noqa: E402
from hyplib.inspectors import Correlation, MutualInfo, Probe  # noqa: E402
from hyplib.inspectors.histogram import _BLOCK  # noqa: E402
from hyplib.inspectors.streaming import held_out  # noqa: E402

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


# --------------------------------------------------------------------------- (a)

def clock() -> float:
    """The process's CPU seconds: every side runs on one thread, and on a shared machine CPU
    time is steadier than wall time (on an idle one they agree)."""
    return time.process_time()


def hyplib_scores(w: Workload, batch: int) -> tuple[float, dict, Correlation, MutualInfo]:
    """Correlation + MutualInfo over the whole matrix in batches; seconds and a breakdown."""
    start = clock()
    units = w.x.shape[1]
    corr = Correlation(units, w.columns, "cpu")
    mi = MutualInfo(units, [w.columns[j] for j in w.discrete], "cpu", bins=MI_BINS)
    disc = torch.from_numpy(w.discrete)
    spent = {"correlation_update": 0.0, "mutual_info_update": 0.0}
    for lo in range(0, w.x.shape[0], batch):
        x, y = torch.from_numpy(w.x[lo:lo + batch]), torch.from_numpy(w.y[lo:lo + batch])
        t0 = clock()
        corr.update(x, y)
        t1 = clock()
        mi.update(x, y.index_select(1, disc))
        spent["correlation_update"] += t1 - t0
        spent["mutual_info_update"] += clock() - t1
    t0 = clock()
    corr.scores()
    t1 = clock()
    mi.scores()
    spent["correlation_scores"] = t1 - t0
    spent["mutual_info_scores"] = clock() - t1
    return clock() - start, spent, corr, mi


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

    start = clock()
    for _ in range(pearson_pairs):
        u, c = int(rng.integers(units)), int(rng.integers(cols))
        values["pearson"].append((u, c, stats.pearsonr(xt[u], yt[c]).statistic))
    seconds["pearson_pair"] = (clock() - start) / pearson_pairs

    picked = rng.choice(units, bin_units, replace=False)
    start = clock()
    binned = {int(u): bins_of(u) for u in picked}
    seconds["bin_unit"] = (clock() - start) / bin_units

    start = clock()
    for i in range(mi_pairs):
        u, h = int(picked[i % bin_units]), int(rng.integers(hyps))
        values["mi"].append((u, h, mutual_info_score(binned[u], ct[h])))
    seconds["mi_pair"] = (clock() - start) / mi_pairs
    seconds["total"] = (seconds["pearson_pair"] * units * cols + seconds["bin_unit"] * units
                        + seconds["mi_pair"] * units * hyps)
    return seconds, values


def plugin_mi(joint: np.ndarray) -> np.ndarray:
    """The plug-in MI (nats) of each unit's joint counts (units × bins × classes)."""
    joint = joint.astype(np.float64)
    n = joint.sum((1, 2), keepdims=True)
    px, py = joint.sum(2, keepdims=True), joint.sum(1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(joint > 0, joint / n * np.log(joint * n / (px * py)), 0.0)
    return terms.sum((1, 2))


def reference_scores(w: Workload, warmup: int, method: str) -> tuple[float, np.ndarray, np.ndarray]:
    """The vectorised reference, as a competent numpy or torch user would write it: r from
    one float32 product of the centred matrices; each unit cut once into 16 bins at the
    quantiles of its first ``warmup`` symbols (the bins hyplib uses), then the joint counts of
    (unit, bin, class) per discrete hypothesis, by one ``bincount`` per hypothesis
    (``numpy-bincount``, ``torch-bincount``) or by one float32 product per bin with the
    one-hot labels (``numpy-gemm``: cheaper with many hypotheses). CPU seconds, r, plug-in MI."""
    start = clock()
    units, nb = w.x.shape[1], MI_BINS
    levels = np.arange(1, nb) / nb
    disc = [h for h in w.hyps if h.kind != "continuous"]
    k = [len(h.classes) if h.kind == "categorical" else 2 for h in disc]
    if method.startswith("torch"):
        x, y = torch.from_numpy(w.x), torch.from_numpy(w.y)
        xc, yc = x - x.mean(0), y - y.mean(0)
        r = (xc.T @ yc) / torch.outer(xc.square().sum(0).sqrt(), yc.square().sum(0).sqrt())
        edges = torch.quantile(x[:warmup].double(), torch.from_numpy(levels), dim=0)
        edges = edges.cummax(0).values.float()
        codes = torch.zeros(x.shape, dtype=torch.uint8)
        for e in edges:
            codes += x > e
        base = (codes.long() + torch.arange(units) * nb)
        mi = []
        for j, kj in enumerate(k):
            cls = torch.from_numpy(w.classes[:, j])
            joint = torch.bincount((base * kj + cls[:, None]).view(-1),
                                   minlength=units * nb * kj).view(units, nb, kj)
            mi.append(plugin_mi(joint.numpy()))
        return clock() - start, r.numpy(), np.stack(mi, 1)
    x, y = w.x, w.y
    xc, yc = x - x.mean(0), y - y.mean(0)
    r = (xc.T @ yc) / np.outer(np.sqrt(np.einsum("ij,ij->j", xc, xc)),
                               np.sqrt(np.einsum("ij,ij->j", yc, yc)))
    edges = np.maximum.accumulate(np.quantile(x[:warmup].astype(np.float64), levels, axis=0),
                                  axis=0).astype(np.float32)
    codes = np.zeros(x.shape, np.uint8)
    for e in edges:
        codes += x > e
    if method == "numpy-gemm":
        onehot = np.concatenate([np.eye(kj, dtype=np.float32)[w.classes[:, j]]
                                 for j, kj in enumerate(k)], 1)  # symbols × Σ classes
        onehot_t = np.ascontiguousarray(onehot.T)
        joint = np.stack([(onehot_t @ (codes == b).astype(np.float32)).T for b in range(nb)], 1)
        ends = np.cumsum([0] + k)
        mi = [plugin_mi(joint[:, :, lo:hi]) for lo, hi in zip(ends, ends[1:])]
        return clock() - start, r, np.stack(mi, 1)
    base = codes.astype(np.int64) + np.arange(units) * nb
    mi = []
    for j, kj in enumerate(k):
        joint = np.bincount((base * kj + w.classes[:, j, None]).ravel(),
                            minlength=units * nb * kj).reshape(units, nb, kj)
        mi.append(plugin_mi(joint))
    return clock() - start, r, np.stack(mi, 1)


class Runs:
    """Timings, results and peak memory of repeated runs, per implementation."""

    def __init__(self):
        self.seconds: dict[str, list[float]] = {}
        self.peak: dict[str, float] = {}    # highest peak RSS over its runs, MiB
        self.growth: dict[str, float] = {}  # highest peak RSS over the RSS at its start, MiB
        self.extra: dict[str, list] = {}

    def run(self, name: str, fn, *args, **kwargs):
        """Call ``fn``, whose first result is its seconds; record them and its peak RSS."""
        gc.collect()
        reset_peak()
        before = rss_mib()
        out = fn(*args, **kwargs)
        peak = peak_mib()
        self.seconds.setdefault(name, []).append(out[0])
        self.peak[name] = max(self.peak.get(name, 0.0), peak)
        self.growth[name] = max(self.growth.get(name, 0.0), peak - before)
        self.extra.setdefault(name, []).append(out[1:])
        return out

    def median(self, name: str) -> float:
        return statistics.median(self.seconds[name])

    def ratio(self, slow: str, fast: str) -> float:
        """The median over repeats of slow / fast (runs paired by repeat)."""
        return statistics.median(a / b for a, b in zip(self.seconds[slow], self.seconds[fast]))

    def row(self, name: str, **fields) -> dict:
        return {"implementation": name, "seconds": round(self.median(name), 2),
                "min_seconds": round(min(self.seconds[name]), 2),
                "seconds_per_repeat": " ".join(f"{t:.2f}" for t in self.seconds[name]),
                "peak_rss_mib": round(self.peak[name]),
                "peak_over_start_mib": round(self.growth[name]), **fields}


def part_a(w: Workload, args, threads: list[int]) -> tuple[list[dict], dict]:
    units, cols, hyps = w.x.shape[1], w.y.shape[1], w.classes.shape[1]
    hyplib_scores(w, args.batch_size)  # warm-up (allocator, thread pool, first-call paths)
    w.by_unit()  # the naive side's unit-major copies, made before its timing
    runs = Runs()
    names = {n: f"hyplib Correlation + MutualInfo, {n} torch thread{'s' if n > 1 else ''}"
             for n in threads}
    naive_name = "naive: scipy pearsonr + sklearn mutual_info_score per pair, one core"
    last = {}  # the latest run's inspectors, for the cross-check (earlier ones are dropped)

    def hyplib_run(n):
        seconds, spent, corr, mi = hyplib_scores(w, args.batch_size)
        last[n] = corr, mi
        return seconds, spent

    ref_names = {m: f"vectorised reference: {m.replace('-', ' ')}, one thread"
                 for m in args.references}
    ref_values = {}

    def reference_run(method):
        seconds, r, mi = reference_scores(w, args.warmup, method)
        ref_values[method] = r, mi
        return seconds, None

    for rep in range(args.repeats):
        for n in threads:
            last.clear()
            with torch_threads(n):
                runs.run(names[n], hyplib_run, n)
        for m in args.references:
            runs.run(ref_names[m], reference_run, m)
        _, naive, values = runs.run(naive_name, naive_timed, w, args.pearson_pairs,
                                    args.mi_pairs, args.bin_units, args.warmup, args.seed + rep)
        print(f"(a) repeat {rep + 1}: naive {naive['total']:.0f} s extrapolated "
              f"(pearsonr {naive['pearson_pair'] * 1e3:.2f} ms/pair, binning "
              f"{naive['bin_unit'] * 1e3:.1f} ms/unit, mutual_info_score "
              f"{naive['mi_pair'] * 1e3:.2f} ms/pair); "
              + "; ".join(f"{n} thread(s): hyplib {runs.seconds[names[n]][-1]:.2f} s ("
                          + ", ".join(f"{k} {v:.2f}"
                                      for k, v in runs.extra[names[n]][-1][0].items())
                          + f"), {naive['total'] / runs.seconds[names[n]][-1]:.0f}×"
                          for n in threads), flush=True)
    corr, mi = last[threads[-1]]
    # the two sides agree on the pairs the naive side computed
    r = corr.scores().score.numpy()
    mi_plugin = mi.scores()[1].score.numpy()
    err_r = max(abs(r[u, c] - v) for u, c, v in values["pearson"])
    err_mi = max(abs(mi_plugin[u, h] - v) for u, h, v in values["mi"])
    # a planted unit comes first: the top unit by MI per planted discrete hypothesis
    top_mi = mi.scores()[0].score.argmax(0).numpy()
    hyp_index = {h.name: i for i, h in enumerate(h for h in w.hyps if h.kind != "continuous")}
    found = [int(top_mi[hyp_index[n]]) in u for n, u in w.planted.items() if n in hyp_index]

    med = statistics.median
    state = {"correlation": tensor_mib(corr.state_dict()),
             "mutual_info": tensor_mib(mi.state_dict())}
    batch_mib = args.batch_size * (units + cols) * 4 / 2 ** 20
    chunk = max(1, _BLOCK // units)  # rows per block of MutualInfo's edge masks on the CPU
    pairs_r, pairs_mi = units * cols, units * hyps
    rows, summary = [], {}
    for n in threads:
        summary[n] = runs.ratio(naive_name, names[n])
        spent = [e[0] for e in runs.extra[names[n]]]
        rows.append(runs.row(
            names[n], part="a", ratio=round(summary[n], 1),
            what=f"{pairs_r:,} (unit, column) r + {pairs_mi:,} (unit, hypothesis) MI, "
                 f"batches of {args.batch_size:,}",
            tensor_mib=round(sum(state.values()), 1),
            notes=", ".join(f"{k} {med(s[k] for s in spent):.2f} s" for k in spent[0])
            + f"; state: correlation {state['correlation']:.1f} MiB, mutual_info "
              f"{state['mutual_info']:.1f} MiB; per batch: input {batch_mib:.0f} MiB, "
              f"correlation's float32 shifted copy "
              f"{args.batch_size * units * 4 / 2 ** 20:.0f} MiB, "
              f"mutual_info's edge mask {chunk * units / 2 ** 20:.2f} MiB (a block of rows); "
              f"max |r - pearsonr| {err_r:.1e}, max |MI - mutual_info_score| {err_mi:.1e}; "
              f"a planted unit ranked first by MI for {sum(found)}/{len(found)} planted "
              "hypotheses"))
    naive = [e[0] for e in runs.extra[naive_name]]
    rows.append(runs.row(
        naive_name, part="a", ratio=1.0, tensor_mib=0.0,
        what=f"timed on {args.pearson_pairs} pearsonr pairs, {args.mi_pairs} mutual_info_score "
             f"pairs and binning {args.bin_units} units, extrapolated to {pairs_r:,} + "
             f"{pairs_mi:,} pairs and {units:,} units",
        notes=f"pearsonr {med(n['pearson_pair'] for n in naive) * 1e3:.2f} ms/pair; "
              f"binning {med(n['bin_unit'] for n in naive) * 1e3:.1f} ms/unit; "
              f"mutual_info_score {med(n['mi_pair'] for n in naive) * 1e3:.2f} ms/pair; on "
              f"unit-major copies of the matrices ({w.x.nbytes / 2 ** 20:.0f} MiB more RAM, made "
              "before timing: a strided column makes pearsonr ~15× slower)"))
    mi_hyplib = mi.scores()[1].score.numpy()
    for m, name in ref_names.items():
        r_ref, mi_ref = ref_values[m]
        summary[m] = runs.ratio(name, names[threads[0]])
        rows.append(runs.row(
            name, part="a", ratio=round(summary[m], 2), tensor_mib=0.0,
            what=f"the same {pairs_r:,} r and {pairs_mi:,} MI on the whole matrix, vectorised "
                 "(ratio here: its time / hyplib's)",
            notes=f"max |r - hyplib| {np.nanmax(np.abs(r_ref - r)):.1e}, max |MI - hyplib's "
                  f"mi_plugin| {np.nanmax(np.abs(mi_ref - mi_hyplib)):.1e} (same bins)"))
    return rows, summary


def naive_timed(*args, **kwargs):
    seconds, values = naive_scores(*args, **kwargs)
    return seconds["total"], seconds, values


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


def hyplib_probe(w: Workload, test: np.ndarray, batch: int, **kwargs):
    """hyplib's probe streamed over the matrix, then scored; seconds, accuracy, the probe."""
    start = clock()
    probe = Probe(w.x.shape[1], w.target.columns, "cpu", test_size=int(test.sum()), **kwargs)
    y = torch.from_numpy(np.ascontiguousarray(w.y[:, :len(w.target.classes)]))
    for lo in range(0, w.x.shape[0], batch):
        probe.update(torch.from_numpy(w.x[lo:lo + batch]), y[lo:lo + batch])
    scores = {s.metric: s for s in probe.scores()}
    seconds = clock() - start
    assert scores["accuracy"].n.item() == test.sum()  # every held-out symbol, as NeuroX
    fit = (min(probe.train.size, probe.train.seen), probe.fit_epochs(
        min(probe.train.size, probe.train.seen)), probe.lr, probe.minibatch)
    return seconds, scores["accuracy"].score.item(), tensor_mib(probe.state_dict()), fit


def neurox_probe(linear_probe, w: Workload, test: np.ndarray, epochs: int, l1: float, l2: float,
                 batch: int = 32):
    """NeuroX's probe on the standardised split; seconds, accuracy, the probe."""
    start = clock()
    xtr, xte = w.x[~test], w.x[test]
    mean, sd = xtr.mean(0), xtr.std(0)
    xtr, xte = (xtr - mean) / sd, (xte - mean) / sd
    ytr, yte = w.target_classes[~test], w.target_classes[test]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        probe = linear_probe.train_logistic_regression_probe(
            xtr, ytr, lambda_l1=l1, lambda_l2=l2, num_epochs=epochs, batch_size=batch)
        result = linear_probe.evaluate_probe(probe, xte, yte)
    seconds = clock() - start
    return seconds, float(result["__OVERALL__"]), tensor_mib(list(probe.state_dict().values()))


def part_b(w: Workload, args, threads: list[int]) -> tuple[list[dict], dict]:
    n = w.x.shape[0]
    test = held_out(torch.arange(n), 0, 0.2).numpy()
    n_train, n_test = int((~test).sum()), int(test.sum())
    linear_probe, why = import_neurox()
    configs = {"defaults": {}, "small reservoir": {"train_size": args.probe_small_reservoir}}
    hyplib_probe(w, test, args.batch_size)  # warm-up
    runs = Runs()
    suffix = {t: f", {t} torch thread{'s' if t > 1 else ''}" for t in threads}
    hname = {(c, t): f"hyplib probe ({c}){suffix[t]}" for c in configs for t in threads}
    nname = {t: f"NeuroX 1.0.9 train_logistic_regression_probe{suffix[t]}" for t in threads}
    fast = args.neurox_fast_batch
    fname = {t: f"NeuroX 1.0.9, batch {fast}{suffix[t]}" for t in threads} if fast else {}
    for rep in range(args.repeats):
        line = []
        for t in threads:
            with torch_threads(t):
                for c, kw in configs.items():
                    sec, acc, *_ = runs.run(hname[c, t], hyplib_probe, w, test,
                                            args.batch_size, **kw)
                    line.append(f"{hname[c, t]} {sec:.2f} s, accuracy {acc:.4f}")
                if linear_probe is not None and rep < args.neurox_repeats:
                    sec, acc, _ = runs.run(nname[t], neurox_probe, linear_probe, w, test,
                                           args.neurox_epochs, 1e-5, 1e-5)
                    line.append(f"NeuroX{suffix[t]} {sec:.2f} s, accuracy {acc:.4f}")
                    if fast:
                        sec, acc, _ = runs.run(fname[t], neurox_probe, linear_probe, w, test,
                                               args.neurox_epochs, 1e-5, 1e-5, fast)
                        line.append(f"NeuroX batch {fast}{suffix[t]} {sec:.2f} s, accuracy "
                                    f"{acc:.4f}")
        print(f"(b) repeat {rep + 1}: " + "; ".join(line), flush=True)

    med = statistics.median
    k = len(w.target.classes)
    common = (f"{k} classes in {len(w.planted['target'])} units + noise; {n_train:,} training "
              f"/ {n_test:,} held-out symbols (hyplib's hashed split, seed 0)")
    rows, summary = [], {}
    for (c, t), name in hname.items():
        acc = med(e[0] for e in runs.extra[name])
        state, (size, epochs, lr, minibatch) = runs.extra[name][-1][1:]
        ratio = runs.ratio(nname[t], name) if nname[t] in runs.seconds else None
        summary[c, t] = (ratio, acc, size, epochs, lr)
        rows.append(runs.row(
            name, part="b", ratio=None if ratio is None else round(ratio, 1),
            accuracy=round(acc, 4), tensor_mib=round(state, 1),
            what=common + f"; streamed in batches of {args.batch_size:,} (Adam, minibatch "
                 f"{minibatch}, lr {lr}), then {epochs} epochs over a {size:,}-symbol "
                 "training reservoir" + (" (all of them)" if size >= n_train else "")
                 + "; scores() includes the top-10 / random-10 probes and the intervals",
            notes=f"state {state:.0f} MiB (reservoirs of training and held-out symbols, "
                  f"weights, Adam moments); l1 = l2 = 1e-5 on standardised units"))
    if linear_probe is None:
        rows.append({"part": "b", "implementation": "NeuroX 1.0.9", "what": common,
                     "notes": f"does not import: {why}"})
        return rows, summary
    fastest = {c: min(threads, key=lambda t: runs.median(hname[c, t])) for c in configs}
    t_nx = min(threads, key=lambda t: runs.median(nname[t]))
    summary["best"] = {c: (runs.median(nname[t_nx]) / runs.median(hname[c, t]), t, t_nx)
                       for c, t in fastest.items()}
    for t, name in fname.items():
        acc = med(e[0] for e in runs.extra[name])
        ratio = runs.ratio(name, hname["defaults", t])
        summary["fast", t] = (ratio, acc, fast)
        rows.append(runs.row(
            name, part="b", ratio=round(ratio, 1), accuracy=round(acc, 4),
            tensor_mib=round(runs.extra[name][-1][1], 2),
            what=common + f"; its defaults but batches of {fast} (fewer, larger steps: its "
                 f"faster setting), {args.neurox_epochs} epochs; units standardised first "
                 "(timed); ratio: its time / hyplib's probe with its defaults",
            notes=""))
    for t, name in nname.items():
        acc = med(e[0] for e in runs.extra[name])
        weights = runs.extra[name][-1][1]
        summary["neurox", t] = (None, acc, None, None, None)
        rows.append(runs.row(
            name, part="b", ratio=1.0, accuracy=round(acc, 4), tensor_mib=round(weights, 2),
            what=common + f"; its defaults: batch 32, Adam lr 1e-3, {args.neurox_epochs} epochs "
                 "over every training symbol; units standardised first (timed)",
            notes=f"weights {weights * 1024:.0f} KiB; keeps standardised copies of the train "
                  f"and held-out matrices ({w.x.nbytes / 2 ** 20:.0f} MiB) in RAM"))
    return rows, summary


# --------------------------------------------------------------------------- main

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
    p.add_argument("--probe-small-reservoir", type=int, default=20_000,
                   help="hyplib probe, second run: this training reservoir (default: 20,000)")
    p.add_argument("--neurox-epochs", type=int, default=10, help="NeuroX's default")
    p.add_argument("--neurox-fast-batch", type=int, default=128,
                   help="NeuroX also at this batch size (0: not)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--neurox-repeats", type=int, default=3)
    p.add_argument("--also-threads", type=int, nargs="*", default=[],
                   help="time hyplib with these torch thread counts too (default: one thread, "
                        "as every other side)")
    p.add_argument("--parts", default="ab", help="a: per-unit scores, b: the probe")
    p.add_argument("--references", nargs="*",
                   default=["numpy-bincount", "numpy-gemm", "torch-bincount"],
                   help="vectorised references timed in (a)")
    p.add_argument("--name", default="inspectors", help="results file stem")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.categorical < 1:
        p.error("--categorical must be at least 1 (the probe's target is one of them)")
    threads = list(dict.fromkeys([torch.get_num_threads(), *args.also_threads]))

    start = time.perf_counter()
    command = ("python bench/inspectors.py "
               + " ".join(sys.argv[1:] if argv is None else argv)).strip()
    OUT.mkdir(exist_ok=True)
    w = workload(args.symbols, args.units, args.binary, args.categorical, args.continuous,
                 args.probe_classes, args.probe_units, args.seed)
    print(f"workload: {w.x.shape[0]:,} symbols × {w.x.shape[1]:,} units, {w.y.shape[1]} label "
          f"columns ({len(w.hyps)} hypotheses), made in {time.perf_counter() - start:.1f} s",
          flush=True)
    rows, summary = [], {}
    if "a" in args.parts:
        r, summary["a"] = part_a(w, args, threads)
        rows += r
    if "b" in args.parts:
        r, summary["b"] = part_b(w, args, threads)
        rows += r

    table = pd.DataFrame(rows)
    table.insert(0, "command", command)
    table["machine"] = machine()
    table.to_csv(OUT / f"{args.name}.csv", index=False)
    kinds = {k: sum(h.kind == k for h in w.hyps) for k in ("binary", "categorical", "continuous")}
    plural = lambda t: f"{t} torch thread{'s' if t > 1 else ''}"  # noqa: E731
    lines = [
        "# Inspectors: hyplib vs per-unit scipy/sklearn loops and vs NeuroX's probe",
        "",
        f"Command: `{command}` (took {time.perf_counter() - start:.0f} s)",
        "",
        f"Machine: {machine()}.",
        "",
        f"Workload: {w.x.shape[0]:,} symbols × {w.x.shape[1]:,} units (float32, "
        f"{w.x.nbytes / 2 ** 20:.0f} MiB), {kinds['binary']} binary + {kinds['categorical']} "
        f"categorical (3–5 classes, and the {args.probe_classes}-class probe target) + "
        f"{kinds['continuous']} continuous hypotheses = {w.y.shape[1]} label columns; "
        f"{len(w.planted)} hypotheses planted in units; seed {args.seed}. Times are the "
        f"process's CPU seconds, medians of {args.repeats} repeats (min and every repeat in "
        "the last line), after one warm-up run of the hyplib side; every side runs on one "
        "thread (torch, and numpy's BLAS through OMP/MKL/OPENBLAS_NUM_THREADS=1); the sides are "
        "interleaved in each repeat; ratio = the reference's time / hyplib's, the median of the "
        "per-repeat ratios.",
        "",
    ]
    if "a" in summary:
        a = summary["a"]
        refs = {m: a[m] for m in args.references}
        lines.append("**(a)** hyplib is " + ", ".join(
            f"**{a[t]:.0f}×** faster with {plural(t)}" for t in threads)
            + " than the per-pair scipy/sklearn loop (target ≥ 200×)" + (
                f", and **{min(refs.values()):.2f}×** faster than the fastest vectorised "
                f"reference ({min(refs, key=refs.get)}; target ≥ 3×): "
                + ", ".join(f"{m} {v:.2f}×" for m, v in refs.items()) if refs else "") + ".")
    if summary.get("b"):
        b = summary["b"]
        nx = {k[1]: v[1] for k, v in b.items() if k[0] == "neurox"}
        if "best" in b:
            ratio, t, t_nx = b["best"]["defaults"]
            lines.append(
                f"**(b)** each at its faster thread count: hyplib's probe with its defaults "
                f"({plural(t)}) is **{ratio:.1f}×** faster than NeuroX's ({plural(t_nx)}), "
                "target ≥ 5×. Per thread count:")
        for t in threads:
            ratio, acc, size, epochs, lr = b["defaults", t]
            if ratio is None or t not in nx:
                continue
            s_ratio, s_acc, s_size, s_epochs, _ = b["small reservoir", t]
            lines.append(
                f"- with {plural(t)}: hyplib's probe with its defaults (a {size:,}-symbol "
                f"reservoir, {epochs} epochs, lr {lr}) is **{ratio:.1f}×** faster than "
                f"NeuroX's (target ≥ 5×) at held-out accuracy {acc:.4f} vs NeuroX's "
                f"{nx[t]:.4f}; with a {s_size:,}-symbol reservoir ({s_epochs} epochs) "
                f"{s_ratio:.1f}× at {s_acc:.4f}.")
            if ("fast", t) in b:
                f_ratio, f_acc, f_batch = b["fast", t]
                lines.append(f"- with {plural(t)}, against NeuroX at batch {f_batch}: hyplib's "
                             f"probe with its defaults is **{f_ratio:.1f}×** faster, at held-out "
                             f"accuracy {acc:.4f} vs {f_acc:.4f}.")
    cols = ["part", "implementation", "seconds", "min_seconds", "ratio", "accuracy",
            "peak_rss_mib",
            "peak_over_start_mib", "tensor_mib", "what", "notes"]
    lines += ["", "`peak_rss_mib`: the process's peak RSS during that implementation's runs "
              "(reset before each run through `/proc/self/clear_refs`; the workload, "
              f"{(w.x.nbytes + w.y.nbytes) / 2 ** 20:.0f} MiB, is resident throughout); "
              "`peak_over_start_mib`: that peak less the RSS at the run's start; "
              "`tensor_mib`: what the inspector keeps (its state dict), or the probe's weights.",
              "", table[[c for c in cols if c in table]].to_markdown(index=False), "",
              "Per repeat (s): " + "; ".join(f"{r['implementation']}: {r['seconds_per_repeat']}"
                                             for r in rows if "seconds_per_repeat" in r), ""]
    (OUT / f"{args.name}.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
