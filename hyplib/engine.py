"""The streaming engine: one pass over the records for all models × layers × hypotheses × inspectors.

Per batch: the records' labels are gathered from the annotation cache once (shared by every
model), each model runs once with hooks on all its layers, each layer's behaviour is aligned to
the symbols of each hypothesis level, and every inspector updates its statistics on the device.
Behaviours are not kept.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import math
import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Sequence

import datasets
import numpy as np
import torch
from tqdm.auto import tqdm

from .align import (
    PIXEL_BUDGET,
    Upsampler,
    align,
    feature_map,
    image_means,
    pixel_grids,
    symbol_spans,
)
from .annotation import Labels, LabelTable, annotate
from .behaviour_cache import BehaviourStore, behaviour_key
from .device import model_precision, pick_device
from .errors import BehaviourError, HyplibError, HyplibWarning
from .extract import record, resolve_layers
from .models import Model, TextModel
from .plugins import Catalog
from .plugins import catalog as default_catalog
from .provenance import provenance
from .results import Result, as_list
from .settings import POOLS, PRECISIONS, check_choice
from .significance import look_share
from .stopping import settled, spend_alpha
from .types import Hypothesis, unit_name
from .validate import check_inspector_args, check_pass
from .windows import Windows


@dataclass
class _Level:
    """The hypotheses of one symbol level, and which label columns each inspector reads."""

    name: str
    labels: LabelTable
    columns: list
    inspector_columns: dict[str, torch.Tensor]


def _levels(hyps: list[Hypothesis], all_labels: dict[str, Labels], inspectors: dict[str, type],
            device) -> list[_Level]:
    levels = []
    for level in sorted({h.level for h in hyps}):
        chosen = [h for h in hyps if h.level == level]
        columns = [c for h in chosen for c in h.columns]
        picks = {}
        for name, cls in inspectors.items():
            idx = [i for i, c in enumerate(columns) if cls.accepts(c.hypothesis)]
            if idx:
                picks[name] = torch.tensor(idx, device=device)
        levels.append(_Level(level, LabelTable([all_labels[h.name] for h in chosen]), columns,
                             picks))
    return levels


def _resolve(items, kind: str, cat: Catalog) -> list:
    out = []
    for item in items:
        out += cat.select(kind, [item]) if isinstance(item, str) else [item]
    return out


def _check_finite(x: torch.Tensor, model: str, layer: str, counts: np.ndarray, ids: np.ndarray):
    """Raise if ``x`` (symbols × units, or a batch of feature maps) holds a non-finite value,
    naming the unit and the record. A finite sum (one read, no mask) clears it; a sum that is
    not finite (a NaN or infinity, or finite values overflowing it) gets the full test."""
    if torch.isfinite(x.sum()) or torch.isfinite(x).all():
        return
    if x.dim() == 4:  # images × units × height × width: pixels × units
        x = x.flatten(2).transpose(1, 2).reshape(-1, x.shape[1])
    bad = ~torch.isfinite(x)
    unit = int(bad.any(0).nonzero()[0])
    row = int(bad[:, unit].nonzero()[0])
    rec = ids[np.searchsorted(np.cumsum(counts), row, side="right")]
    raise BehaviourError(f"unit {unit_name(model, layer, unit)} is {x[row, unit].item()} on record "
                         f"{rec}: the model produced non-finite activations there")


class _FiniteCheck:
    """:func:`_check_finite` for every behaviour. On CUDA the tests are queued on the device
    and read once per batch (:meth:`flush`), so the host does not wait for the device after
    every layer."""

    def __init__(self, defer: bool):
        self.defer = defer
        self.pending: list[tuple[torch.Tensor, tuple]] = []

    def __call__(self, x: torch.Tensor, *context) -> None:
        if self.defer:
            self.pending.append((torch.isfinite(x.sum()), (x, *context)))
        else:
            _check_finite(x, *context)

    def flush(self) -> None:
        if self.pending and not bool(torch.stack([ok for ok, _ in self.pending]).all()):
            for _, args in self.pending:
                _check_finite(*args)
        self.pending.clear()


def inspect(
    models: Model | Sequence[Model],
    data: datasets.Dataset,
    hypotheses: Sequence[Hypothesis | str],
    inspectors: Sequence[str | type] = ("correlation",),
    layers: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    *,
    inspector_args: Mapping[str, Mapping] | None = None,
    batch_size: int = 32,
    device: str | torch.device = "auto",
    seed: int = 0,
    max_records: int | None = None,
    sample: float | None = None,
    tolerance: float | None = None,
    top_k: int | None = None,
    pool: str = "first",
    precision: str = "float32",
    behaviour_cache: bool = False,
    progress: bool = True,
    catalog: Catalog | None = None,
    pixel_budget: int = PIXEL_BUDGET,
    engine: str = "local",
    engine_args: Mapping | None = None,
    window: int | None = None,
) -> Result:
    """Score every unit of the chosen layers against every hypothesis with every inspector.

    ``hypotheses`` and ``inspectors`` take objects or names (globs for hypotheses, e.g.
    ``"grammar.python.*"``); ``inspector_args`` gives an inspector's parameters by name
    (``{"probe": {"k": 20}}``); ``layers`` defaults to each model's ``default_layers``. Records
    are visited in a seeded random order, so ``max_records`` (or a ``sample`` fraction) reads a
    random sample. With ``tolerance`` the pass stops early once every score, or with ``top_k``
    the k best units per hypothesis, is known to that interval half-width
    (:mod:`hyplib.stopping`); ``meta["stopped"]`` says why reading ended. Each check is a look
    that spends a share of the inspectors' 1 - confidence, so the intervals (and p-values) a
    run with ``tolerance`` reports hold at their confidence whenever it stops. ``precision``
    ``"float32"`` is IEEE float32 on every device; ``"tf32"`` allows TF32 matrix units on
    CUDA; ``"bfloat16"`` or ``"float16"`` runs the models under autocast. Statistics stay
    float32/64 whatever the models' precision.
    The next batch (records, labels, tokens) is prepared in a background thread while the
    current one runs. With ``behaviour_cache`` a full pass keeps the aligned behaviours on disk
    (:mod:`hyplib.behaviour_cache`) and later queries on the same model, layers and data read
    them instead of running the model.

    Image models (:class:`~hyplib.ImageModel`) take ``pixel`` and ``record``
    hypotheses: each feature map is upsampled bilinearly to the record's label grid in chunks
    of at most ``pixel_budget`` (pixel, unit) values, and a whole image's behaviour is the
    map's spatial mean (``pool`` applies to text).

    ``engine="ray"`` cuts the pass into shards run by a pool of Ray actors and merges their
    inspector states (:func:`hyplib.scale.engine.inspect_ray`; ``engine_args`` such as
    ``{"workers": 4, "address": "auto"}``): the same result, moments to float rounding.

    A record longer than ``window`` characters (default 16,384 for models that say how; ``0``:
    never) runs in pieces, so memory follows the window, not the record: recurrent models carry
    their state across (the same scores), attention models see a stated left context
    (:mod:`hyplib.windows`).
    """
    start = time.perf_counter()
    check_pass(batch_size=batch_size, seed=seed, max_records=max_records, sample=sample,
               tolerance=tolerance, top_k=top_k, window=window)
    if engine != "local":
        if engine != "ray":
            raise HyplibError(f"engine must be 'local' or 'ray', not {engine!r}")
        from .scale.engine import inspect_ray
        return inspect_ray(models, data, hypotheses, inspectors, layers,
                           inspector_args=inspector_args, batch_size=batch_size, device=device,
                           seed=seed, max_records=max_records, sample=sample,
                           tolerance=tolerance, top_k=top_k, pool=pool, precision=precision,
                           behaviour_cache=behaviour_cache, progress=progress, catalog=catalog,
                           pixel_budget=pixel_budget, engine_args=engine_args, window=window)
    run = Pass.prepare(models, data, hypotheses, inspectors, layers,
                       inspector_args=inspector_args, batch_size=batch_size, device=device,
                       pool=pool, precision=precision, behaviour_cache=behaviour_cache,
                       progress=progress, catalog=catalog, pixel_budget=pixel_budget,
                       window=window)
    order = _order(len(data), seed, max_records, sample)
    state: dict[tuple, object] = {}
    n_symbols = run.no_symbols()
    stopped = "end of data" if len(order) == len(data) else "sample limit"
    next_check = 4 * batch_size
    read = 0
    stores = run.stores(data) if behaviour_cache else {}
    looks = Looks(tolerance, top_k, run.insp)
    with torch.inference_mode(), tqdm(total=len(order), desc="inspect", unit="rec",
                                      disable=not progress) as bar, \
            _closing(stores, lambda: read == len(data)):
        full = len(order) == len(data)  # a full pass counts its calibration sample
        if not full:
            run.calibrate(data, len(order), state, stores)
        with contextlib.closing(run.stream(data, order, state, n_symbols, stores,
                                           settle=full)) as batches:
            for n in batches:
                read += n
                bar.update(n)
                if tolerance is not None and read >= next_check and read < len(order):
                    next_check = int(read * 1.25) + 1
                    run.wait()
                    if looks.converged(state):
                        break
    meta = looks.finish(state, run.meta(data, read, n_symbols, looks.stopped or stopped, seed))
    result = Result.from_inspectors(state, meta)  # final fits (probes) happen here
    result.meta["seconds"] = round(time.perf_counter() - start, 3)
    return result


@dataclass
class Pass:
    """One pass's plan, resolved and checked: models and their layers on the device, the
    hypotheses' levels with their labels, and how to make each inspector. :meth:`stream` is
    the per-batch code, run by the local engine over all records and by each Ray worker over
    its shards (:mod:`hyplib.scale`)."""

    plan: dict
    hyps: list
    insp: dict
    makers: dict
    levels: list
    dev: torch.device
    batch_size: int
    pool: str
    precision: str
    pixel_budget: int
    notes: list  # warnings about the hypotheses' labels on this data
    units: dict = field(default_factory=dict)  # key -> units of the inspectors made
    windows: Windows | None = None  # the records run in pieces (hyplib.windows)
    _updates: _Updates | None = None  # the inspectors' updates under way (stream)

    @classmethod
    def prepare(cls, models, data, hypotheses, inspectors, layers, *, inspector_args,
                batch_size, device, pool, precision, behaviour_cache, progress, catalog,
                pixel_budget, annotations=None, window=None) -> "Pass":
        """Resolve names, check the arguments, move the models to the device and read the
        labels (annotating the data once, cached; ``annotations`` gives them read already)."""
        check_choice("pool", pool, POOLS)
        check_choice("precision", precision, PRECISIONS)
        models = [models] if isinstance(models, Model) else list(models)
        cat = catalog or default_catalog()
        hyps = _resolve(hypotheses, "hypotheses", cat)
        if not hyps:
            raise HyplibError("no hypotheses chosen: name some, e.g. 'grammar.python.*'")
        insp = {c.name: c for c in _resolve(inspectors, "inspectors", cat)}
        args = dict(inspector_args or {})
        for name in args:
            if name not in insp:
                raise HyplibError(f"inspector_args names {name!r}, which is not among the "
                                  f"chosen inspectors {sorted(insp)}")
            check_inspector_args(insp[name], args[name])
        makers = {name: functools.partial(cls, **args.get(name, {}))
                  for name, cls in insp.items()}
        for name, icls in insp.items():
            if not any(icls.accepts(h) for h in hyps):
                raise HyplibError(f"inspector {name!r} accepts none of the chosen hypotheses")
        if len(data) == 0:
            raise HyplibError("the data set has no records: check the data path or filter")
        dev = pick_device(device)
        plan = _plan_layers(models, layers, dev)
        _check_levels(plan, hyps, behaviour_cache)
        windows = Windows(plan, data, window)
        labels = annotations or annotate(data, hyps, progress=progress)
        notes = _constant_labels(hyps, labels)
        levels = _levels(hyps, labels, insp, dev)
        return cls(plan, hyps, insp, makers, levels, dev, batch_size, pool, precision,
                   pixel_budget, notes, windows=windows)

    def no_symbols(self) -> dict[str, int]:
        return dict.fromkeys((lv.name for lv in self.levels), 0)

    def make(self, key: tuple, n_units: int):
        """A fresh inspector for ``key`` = (model, layer, level, inspector) over ``n_units``."""
        lv = next(lv for lv in self.levels if lv.name == key[2])
        cols = lv.inspector_columns[key[3]].tolist()
        self.units[key] = n_units
        return self.makers[key[3]](n_units, [lv.columns[i] for i in cols], self.dev)

    def stores(self, data) -> dict:
        return _stores(self.plan, data, self.levels, self.pool, self.precision, self.windows)

    @property
    def calibrates(self) -> bool:
        """Whether some inspector learns bin edges from a first sample (``calibrate``), on
        text models only (image models' histograms learn them from the stream's start)."""
        return any(hasattr(c, "calibrate") for c in self.insp.values()) and \
            all(m.symbols == "text" for m in self.plan)

    def calibrate(self, data, limit: int, state: dict, stores: dict | None = None
                  ) -> np.ndarray:
        """Let the inspectors that learn bin edges from a first sample (``calibrate``) see
        it, making every inspector of ``state`` (:func:`_calibrate`); the records read."""
        if not self.calibrates:
            return np.zeros(0, dtype=np.int64)
        return _calibrate(data, limit, self, state, stores or {})

    def stream(self, data, order, state: dict, n_symbols: dict,
               stores: dict | None = None, settle: bool = False) -> Iterator[int]:
        """Feed the records ``order`` to the inspectors in ``state`` (made as needed), batch
        by batch; after each batch yield its number of records. The last batch yielded may
        still be counting (:meth:`wait` before reading ``state``).

        With ``settle`` (a pass over every record), the calibration sample is counted rather
        than read twice: its records come first (in the order :meth:`calibrate` reads them),
        until every inspector is ``settled``, so the histograms set their edges from exactly
        the rows calibration would give them; then the rest of ``order``
        (:func:`calibration_first` gives the Ray engine the same order)."""
        if settle and self.calibrates:
            read = []
            with contextlib.closing(self._feed(data, calibration_order(len(data)), state,
                                               n_symbols, stores)) as first:
                for ids in first:
                    read.append(ids)
                    yield len(ids)
                    self.wait()
                    if state and all(getattr(s, "settled", True) for s in state.values()):
                        break
            read = np.concatenate(read) if read else np.zeros(0, dtype=np.int64)
            order = calibration_first(order, read)[len(read):]
        for ids in self._feed(data, order, state, n_symbols, stores):
            yield len(ids)

    def wait(self) -> None:
        """Wait until the inspectors have counted every batch :meth:`stream` yielded (the
        last may still be counting on a second thread, :class:`_Updates`)."""
        if self._updates is not None:
            self._updates.wait()

    def _feed(self, data, order, state: dict, n_symbols: dict,
              stores: dict | None) -> Iterator[np.ndarray]:
        """:meth:`stream`'s body: yields the records of each batch, or long record, fed."""
        finite = _FiniteCheck(defer=self.dev.type == "cuda")
        order, after = self.windows.split(order, self.batch_size)
        long = functools.partial(self.windows.run, self, data, state=state, n_symbols=n_symbols,
                                 stores=stores or {}, finite=finite, feed=_update_model)
        updates = self._updates = _Updates(self.dev)
        try:
            yield from long(after.get(-1, ()))
            for k, (ids, spans, ys, encoded) in enumerate(_prefetch(
                    data, order, self.batch_size, self.levels, self.plan, self.dev)):
                for m, chosen in self.plan.items():
                    with model_precision(self.precision, self.dev):
                        _update_model(m, chosen, encoded[m], ids, spans, ys, self, state,
                                      stores or {}, finite, updates=updates)
                finite.flush()
                for lv in self.levels:
                    n_symbols[lv.name] += int(ys[lv.name].shape[0])
                _trim_heap()
                yield ids
                if k in after:  # a long record's pieces are counted in line
                    updates.wait()
                    yield from long(after[k])
            updates.wait()
        finally:
            updates.close()
            self._updates = None

    def meta(self, data, read: int, n_symbols: dict, stopped: str, seed: int) -> dict:
        return {"records": read, "records_total": len(data), "symbols": n_symbols,
                "stopped": stopped, "device": str(self.dev), "seed": seed,
                "data_fingerprint": data._fingerprint,
                "hypotheses": {h.name: h.version for h in self.hyps}, "warnings": self.notes,
                **self.windows.meta(),
                "rank_by_abs": sorted(n for n, c in self.insp.items()
                                      if getattr(c, "rank_by_abs", False)),
                "provenance": provenance([*self.hyps, *self.insp.values()], self.plan,
                                         device=str(self.dev), precision=self.precision,
                                         seed=seed, pool=self.pool)}


def _constant_labels(hyps: list[Hypothesis], labels: dict[str, Labels]) -> list[str]:
    """Warn of each hypothesis whose labels are all the same on the data (nothing can score
    against it: its scores are NaN); the warnings, also kept in the result's meta."""
    notes = []
    for h in hyps:
        values = labels[h.name].values
        if not len(values):
            notes.append(f"hypothesis {h.name!r} labels no symbols of this data set")
        elif values.min() == values.max():
            notes.append(f"hypothesis {h.name!r} gives every symbol the same label "
                         f"({float(values[0]):g}): its scores are undefined (NaN)")
    for note in notes:
        warnings.warn(note, HyplibWarning, stacklevel=3)
    return notes


CALIBRATION_SEED = 20190630  # the calibration sample is the same whatever the pass's seed


def calibration_order(n: int) -> np.ndarray:
    """The order the calibration sample is read in, whatever the pass's seed."""
    return np.random.default_rng(CALIBRATION_SEED).permutation(n)


def calibration_first(order: np.ndarray, read: np.ndarray) -> np.ndarray:
    """A full pass's order when the calibration sample ``read`` is counted: those records
    first, in the order read, then the rest of ``order``."""
    return np.concatenate([read, order[~np.isin(order, read)]])


def _calibrate(data, limit: int, run: Pass, state: dict, stores: dict) -> np.ndarray:
    """Offer the inspectors that set bin edges from a first sample (``calibrate``: mutual
    information, AUC, IoU) the behaviours of records in a fixed random order, independent of
    the pass's seed, until none wants more (their ``warmup`` symbols) or ``limit`` records
    (the pass's own size) have been read; returns the records read. So the pass's seed changes
    only which symbols are counted, never the bins: a full pass gives the same scores for every
    seed. Behaviours come from the behaviour cache when it holds them (rows written now are
    written again, the same, by the pass)."""
    order = calibration_order(len(data))[:limit]
    wanting: dict = {}
    read: list = []
    finite = _FiniteCheck(defer=run.dev.type == "cuda")
    order, after = run.windows.split(order, run.batch_size)
    long = functools.partial(run.windows.run, run, data, state=state, n_symbols=None,
                             stores=stores, finite=finite, feed=_update_model,
                             calibrating=wanting)

    def pieces(k: int) -> None:  # the long records that follow batch k, piece by piece
        if any(wanting.values()) or k < 0:
            read.extend(long(after.get(k, ())))

    pieces(-1)
    for k, (ids, spans, ys, encoded) in enumerate(_prefetch(data, order, run.batch_size,
                                                            run.levels, run.plan, run.dev)):
        for m, chosen in run.plan.items():
            with model_precision(run.precision, run.dev):
                _update_model(m, chosen, encoded[m], ids, spans, ys, run, state, stores, finite,
                              wanting)
        finite.flush()
        read.append(ids)
        pieces(k)
        if not any(wanting.values()):
            break
    return np.concatenate(read) if read else np.zeros(0, dtype=np.int64)


def _heap_trimmer():
    """glibc's ``malloc_trim``, else a no-op. Batches differ in size, and glibc keeps the heap
    pages their freed buffers held; trimming after each batch hands them back, so the
    process's memory follows the batch size, not the number of batches read (at 1M symbols:
    +15% peak RSS over 10x the data instead of +60%, for ~10% more time; bench/scale.py)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return lambda: None
    return lambda: trim(0)


_trim_heap = _heap_trimmer()


def _stores(plan, data, levels, pool, precision, windows: Windows) -> dict:
    """A behaviour store per (model, layer, level)."""
    stores = {}
    for m, chosen in plan.items():
        key = behaviour_key(m) + windows.cache_tag(m)
        for layer in chosen:
            for lv in levels:
                stores[(m, layer, lv.name)] = BehaviourStore(key, layer, data, lv.name, pool,
                                                             precision)
    return stores


@contextlib.contextmanager
def _closing(stores: dict, complete) -> Iterator[None]:
    """Close the stores when the pass ends: kept only if it read every record without error."""
    ok = False
    try:
        yield
        ok = True
    finally:
        for store in stores.values():
            store.close(ok and complete())


def _check_levels(plan: dict, hyps: list[Hypothesis], behaviour_cache: bool) -> None:
    """Each model takes hypotheses of its ``levels`` only (text: char, word and record; image:
    pixel and record)."""
    for m in plan:
        wrong = [h.name for h in hyps if h.level not in m.levels]
        if wrong:
            kind = "an image" if m.symbols == "pixels" else "a text"
            takes = " and ".join([", ".join(m.levels[:-1]), m.levels[-1]])
            raise HyplibError(f"model {m.name!r} is {kind} model: it takes {takes} hypotheses, "
                              f"not {', '.join(wrong[:5])}")
    if behaviour_cache and any(m.symbols != "text" for m in plan):
        raise HyplibError("the behaviour cache keeps text models' behaviours only (an image's "
                          "are pixels × units floats): drop behaviour_cache (--behaviour-cache)")


def _plan_layers(models: list, layers, dev) -> dict:
    """Each model's layers, checked; models moved to the device."""
    plan = {}
    for m in models:
        chosen = layers.get(m.name, m.default_layers) if isinstance(layers, Mapping) else layers
        chosen = list(chosen or m.default_layers)
        if not chosen:
            raise HyplibError(f"no layers chosen for model {m.name!r}: pass layers=[...]")
        resolve_layers(m.module, chosen, m.name)
        plan[m] = chosen
        m.to(dev)
    return plan


def _order(n: int, seed: int, max_records: int | None, sample: float | None) -> np.ndarray:
    """The seeded visiting order, cut to the sample size."""
    order = np.random.default_rng(seed).permutation(n)
    if sample is not None:
        order = order[:max(1, math.ceil(sample * n))]
    return order[:max_records] if max_records is not None else order


def _prefetch(data, order, batch_size, levels, plan, dev) -> Iterator[tuple]:
    """Batches of (record ids, symbol spans per level, labels per level on the device, each
    model's tokens), the next one prepared in a background thread. A batch's records come
    longest first (by their symbols of the first level), as recurrent models that pack their
    input want them: they need not sort, then unsort, each padded output."""
    pin = dev.type == "cuda"
    lengths = np.diff(levels[0].labels.offsets)

    def prepare(ids):
        ids = ids[np.argsort(-lengths[ids], kind="stable")]  # longest first: see CellLSTM
        batch = data[ids]
        spans = {lv.name: pixel_grids(batch) if lv.name == "pixel" else
                 symbol_spans(batch, lv.name) for lv in levels}
        ys = {lv.name: lv.labels.matrix(ids) for lv in levels}
        encoded = {m: m.encode(batch[getattr(m, "field", "text")]) for m in plan}
        if pin:  # page-locked, so that the copies to the device run asynchronously
            ys = {k: v.pin_memory() for k, v in ys.items()}
            for enc in encoded.values():
                enc.inputs = {k: v.pin_memory() for k, v in enc.inputs.items()}
        return ids, spans, ys, encoded

    starts = range(0, len(order), batch_size)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(prepare, order[:batch_size]) if len(order) else None
        for lo in starts:
            ids, spans, ys, encoded = pending.result()
            if lo + batch_size < len(order):
                pending = pool.submit(prepare, order[lo + batch_size:lo + 2 * batch_size])
            yield ids, spans, {k: v.to(dev, non_blocking=True) for k, v in ys.items()}, encoded


def _update_model(m, chosen, enc, ids, spans, ys, run: Pass, state: dict, stores: dict,
                  finite: _FiniteCheck, calibrating: dict | None = None,
                  behaviours=None, updates: _Updates | None = None) -> None:
    """Feed one model's behaviours on the batch (or the ``behaviours`` given: a piece of a
    long record) to every layer × level × inspector (with ``calibrating``, to the
    ``calibrate`` of those that have one; whether each wants more is kept in it). With
    ``updates``, a text model's batch is counted on the updates' thread."""
    levels, dev = run.levels, run.dev
    behaviours = behaviours or (
        _image_behaviours(m, chosen, enc, ids, levels, spans, dev, run.pixel_budget, finite)
        if m.symbols == "pixels" else
        _model_behaviours(m, chosen, enc, ids, levels, spans, run.pool, dev, stores, finite))
    if calibrating is None and updates is not None and m.symbols == "text":
        behaviours = list(behaviours)  # the model runs here, in this thread
        for lv, layer, _, x in behaviours:
            for name in lv.inspector_columns:
                key = (m.name, layer, lv.name, name)
                if key not in state:
                    state[key] = run.make(key, x.shape[1])
        updates(functools.partial(_count, m, behaviours, ys, state))
        return
    for lv, layer, rows, x in behaviours:
        y = ys[lv.name] if rows is None else ys[lv.name].index_select(0, rows)
        for name, cols in lv.inspector_columns.items():
            key = (m.name, layer, lv.name, name)
            if key not in state:
                state[key] = run.make(key, x.shape[1])
            if calibrating is None:
                _update(state[key], x, y, cols)
            elif hasattr(state[key], "calibrate"):
                calibrating[key] = state[key].calibrate(x)


def _update(inspector, x: torch.Tensor, y: torch.Tensor, cols: torch.Tensor) -> None:
    """An inspector's update with its label columns (all of them read as they are)."""
    inspector.update(x, y if len(cols) == y.shape[1] else y.index_select(1, cols))


def _count(m, behaviours: list, ys: dict, state: dict) -> None:
    """Every inspector's update with a text model's behaviours on one batch."""
    for lv, layer, _, x in behaviours:
        for name, cols in lv.inspector_columns.items():
            _update(state[(m.name, layer, lv.name, name)], x, ys[lv.name], cols)


class _Updates:
    """Inspector updates on a second thread, one batch behind the model, where the CPU has a
    core that torch's threads leave free: the model runs batch k + 1 while the inspectors
    count batch k. Updates run one at a time, in stream order, so the result is the same as
    counting in line; :meth:`wait` before reading the inspectors. Elsewhere (CUDA, whose
    kernels already run beside the host; no free core) updates run at once."""

    def __init__(self, dev: torch.device):
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
            os.cpu_count() or 1
        free = dev.type == "cpu" and cores > torch.get_num_threads()
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="hyplib-updates") if free else None
        self.pending = None

    def __call__(self, count) -> None:
        self.wait()
        if self.pool is None:
            count()
        else:
            self.pending = self.pool.submit(_inference, count)

    def wait(self) -> None:
        """Wait for the update under way; raise its error, if it failed."""
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Let the update under way finish (its error, if any, is not raised here)."""
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        self.pending = None


def _inference(count) -> None:
    with torch.inference_mode():  # the mode is per thread
        count()


def _image_behaviours(m, chosen, enc, ids, levels, grids, dev, budget,
                      finite: _FiniteCheck) -> Iterator[tuple]:
    """(level, layer, rows, behaviour) of an image model: each pixel chunk with its label rows
    (:class:`~hyplib.align.Upsampler`); whole images with all rows (``None``)."""
    with record(m.module, chosen, m.name) as seen:
        m.forward(enc, dev)
    for layer in chosen:
        fmap = feature_map(seen[layer], layer)
        b, _, h, w = fmap.shape
        finite(fmap, m.name, layer, np.full(b, h * w), ids)
        for lv in levels:
            if lv.name == "pixel":
                for rows, x in Upsampler(grids["pixel"], budget).chunks(fmap):
                    yield lv, layer, rows, x
            else:
                yield lv, layer, None, image_means(fmap)


def _model_behaviours(m, chosen, enc, ids, levels, spans, pool, dev, stores,
                      finite: _FiniteCheck) -> Iterator[tuple]:
    """(level, layer, None, symbols × units behaviour): from the behaviour cache when it holds
    them all, else from the model (written to the cache when one is being filled)."""
    mine = [stores.get((m, layer, lv.name)) for lv in levels for layer in chosen]
    if mine and all(st is not None and st.reader is not None for st in mine):
        for lv in levels:
            counts = np.array([len(s) for s in spans[lv.name]])
            for layer in chosen:
                x = stores[(m, layer, lv.name)].read(ids).to(dev, non_blocking=True)
                finite(x, m.name, layer, counts, ids)  # a cache is checked like the model
                yield lv, layer, None, x
        return
    with record(m.module, chosen, m.name) as seen:
        m.forward(enc, dev)
    for lv in levels:
        al = align(enc.spans, spans[lv.name], pool, ids).to(dev)
        counts = np.array([len(s) for s in spans[lv.name]])
        for layer in chosen:
            x = al.gather(seen[layer]).float()
            finite(x, m.name, layer, counts, ids)
            if stores:
                stores[(m, layer, lv.name)].write(ids, x)
            yield lv, layer, None, x


class Looks:
    """The looks of a pass with a ``tolerance``: each spends a share of the inspectors' error
    rate (:func:`hyplib.stopping.spend_alpha`), so the intervals hold wherever it stops."""

    def __init__(self, tolerance: float | None, top_k: int | None, insp: dict):
        self.tolerance, self.top_k, self.insp = tolerance, top_k, insp
        self.count, self.nominal, self.stopped = 0, {}, None

    def converged(self, state: dict) -> bool:
        """Look at ``state``; whether its scores are known to the tolerance (then
        ``stopped`` says so)."""
        self.count = spend_alpha(state, self.nominal, self.count + 1)
        if converged(state, self.insp, self.tolerance, self.top_k):
            self.stopped = stop_reason(self.tolerance, self.top_k)
        return self.stopped is not None

    def finish(self, state: dict, meta: dict) -> dict:
        """The end of a pass that did not stop early is a look too; ``meta`` gains the looks."""
        if self.tolerance is not None and self.stopped is None:
            self.count = spend_alpha(state, self.nominal, self.count + 1)
        if self.count:
            meta.update(looks=self.count, alpha_share=look_share(self.count))
        return meta


def converged(state: dict, insp: dict, tolerance: float, top_k: int | None) -> bool:
    """Whether every inspector's scores are known to ``tolerance`` (:mod:`hyplib.stopping`)."""
    return all(settled(s, tolerance, top_k, getattr(insp[key[3]], "rank_by_abs", False))
               for key, inspector in state.items() for s in as_list(inspector.scores()))


def stop_reason(tolerance: float, top_k: int | None) -> str:
    return f"converged: tolerance {tolerance}" + (f" on the top {top_k} units" if top_k else "")


def behaviours(model: TextModel, texts: list[str], layers: Sequence[str],
               device: str | torch.device = "auto") -> dict[str, list[np.ndarray]]:
    """Each layer's behaviour on a few texts: per text, a (positions × units) array."""
    dev = pick_device(device)
    model.to(dev)
    enc = model.encode(texts)
    with torch.inference_mode(), record(model.module, layers, model.name) as seen:
        model.forward(enc, dev)
    lengths = (enc.spans[..., 0] >= 0).sum(axis=1)
    return {layer: [h[i, :n].float().cpu().numpy() for i, n in enumerate(lengths)]
            for layer, h in seen.items()}
