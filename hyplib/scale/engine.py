"""The Ray engine: a pass cut into shards of records, run by a pool of Ray actors.

Each actor holds the models (on its GPU where the cluster has them) and runs
:meth:`hyplib.engine.Pass.stream`, the local engine's per-batch code, over one shard at a
time, starting from inspector states the driver forks for the shard's place in the stream
(:mod:`.states`). The driver merges the finished shards' states in stream order, round by
round, decides early stopping between rounds and returns the same
:class:`~hyplib.results.Result` as the local engine. The driver first runs the engine's
calibration (histogram edges from a fixed sample, as the local pass does; a full pass then
reads that sample first, as the local pass counts it); while an inspector is still not
``settled`` (an image model's histograms learn their edges from the stream's first symbols)
rounds hold one shard, so the result does not depend on the number of workers. A worker that
dies is replaced and its shard run again; only the states of completed shards are merged.
"""
from __future__ import annotations

import functools
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..align import PIXEL_BUDGET
from ..engine import Looks, Pass, _order, calibration_first
from ..errors import HyplibError
from ..results import Result
from . import checkpoint as ckpt
from .states import fork_state, receive, settled, ship, state_bytes

ATTEMPTS = 3  # runs of one shard before the pass gives up
ENGINE_ARGS = ("workers", "address", "shard_records", "checkpoint")
_ENV = ("HYPLIB_CACHE", "HYPLIB_PLUGINS", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


def _ray():
    try:
        import ray
    except ImportError:
        raise HyplibError("engine='ray' needs Ray: pip install 'hyplib[ray]'") from None
    return ray


class Worker:
    """A Ray actor's body: one pass's plan with the models on the actor's device; runs shards."""

    def __init__(self, models, data, hyps, inspectors, layers, kwargs: dict):
        cpus = _ray().get_runtime_context().get_assigned_resources().get("CPU", 1)
        torch.set_num_threads(max(1, int(cpus)))
        self.data = data
        self.run = Pass.prepare(models, data, hyps, inspectors, layers, progress=False,
                                catalog=None, behaviour_cache=False, **kwargs)

    def shard(self, ids: np.ndarray, forks: dict) -> tuple[dict, dict, float]:
        """Run the records ``ids`` from the shipped ``forks`` ({key: (units, state)}); return
        the shipped states, the symbols read per level and the seconds taken."""
        start = time.perf_counter()
        state = {key: receive(functools.partial(self.run.make, key, units), st)
                 for key, (units, st) in forks.items() if st is not None}
        n_symbols = self.run.no_symbols()
        with torch.inference_mode():
            for _ in self.run.stream(self.data, ids, state, n_symbols):
                pass
        out = {key: (self.run.units[key], ship(insp)) for key, insp in state.items()}
        return out, n_symbols, time.perf_counter() - start

    def pid(self) -> int:
        return os.getpid()


def inspect_ray(models, data, hypotheses, inspectors, layers, *, engine_args=None,
                inspector_args=None, batch_size: int = 32, device="auto", seed: int = 0,
                max_records=None, sample=None, tolerance=None, top_k=None, pool="first",
                precision="float32", behaviour_cache=False, progress=True, catalog=None,
                pixel_budget=PIXEL_BUDGET, window=None) -> Result:
    """:func:`hyplib.inspect` on Ray. ``engine_args``: ``workers`` actors (default: one per
    CPU of the cluster, at most 16) over shards of ``shard_records`` records (a multiple of
    ``batch_size``; default about four shards per worker), on the cluster at ``address``
    (default: the one this process is connected to, else a local one started here); with
    ``checkpoint`` (a file) the merged states of the finished shards are saved after every
    round, and a run with the same inputs and code resumes from them.

    ``meta`` adds ``engine``, ``workers``, ``shards`` (run and merged), ``rounds``,
    ``redone`` (one line per shard run again after its worker died), ``merge_seconds``,
    ``state_bytes`` (received per merge, the largest shard's), ``shard_seconds`` and
    ``resumed`` (the shards a checkpoint held, or ``None``).
    """
    ray = _ray()
    start = time.perf_counter()
    unknown = sorted(set(engine_args or {}) - set(ENGINE_ARGS))
    if unknown:
        raise HyplibError(f"engine_args {unknown} not known to the Ray engine: it takes "
                          f"{list(ENGINE_ARGS)}")
    opts = {**dict.fromkeys(ENGINE_ARGS), **(engine_args or {})}
    workers, checkpoint = opts["workers"], opts["checkpoint"]
    if behaviour_cache:
        raise HyplibError("the behaviour cache is written by the local engine only: drop "
                          "behaviour_cache (--behaviour-cache) or use engine='local'")
    kwargs = dict(inspector_args=inspector_args, batch_size=batch_size, device=device,
                  pool=pool, precision=precision, pixel_budget=pixel_budget, window=window)
    run = Pass.prepare(models, data, hypotheses, inspectors, layers, progress=progress,
                       catalog=catalog, behaviour_cache=False, **kwargs)
    order = _order(len(data), seed, max_records, sample)
    calibrated: dict = {}  # histogram edges from the engine's calibration sample, which a
    with torch.inference_mode():  # full pass counts first, as the local pass does
        read = run.calibrate(data, len(order), calibrated)
    if len(order) == len(data):
        order = calibration_first(order, read)
    if not ray.is_initialized():
        ray.init(address=opts["address"], include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {k: os.environ[k] for k in _ENV if k in os.environ}})
    resources = ray.cluster_resources()
    workers = workers or max(1, min(16, int(resources.get("CPU", 1))))
    if workers < 1:
        raise HyplibError(f"workers must be at least 1, not {workers}")
    shards = _shards(order, batch_size, workers, opts["shard_records"])
    offsets = _offsets(run, shards)
    gpus = resources.get("GPU", 0) if run.dev.type == "cuda" else 0
    remote = ray.remote(num_cpus=1, num_gpus=min(1.0, gpus / workers) if gpus else 0)(Worker)
    args = (list(run.plan), data, run.hyps, list(run.insp.values()), _layers(run), kwargs)
    actors = [remote.remote(*args) for _ in range(workers)]
    try:
        return _drive(run, data, order, shards, offsets, remote, args, actors, calibrated,
                      tolerance, top_k, seed, checkpoint, progress, start)
    finally:
        for actor in actors:
            ray.kill(actor)


def _drive(run: Pass, data, order, shards, offsets, remote, args, actors: list,
           calibrated: dict, tolerance, top_k, seed: int, checkpoint, progress: bool,
           start: float) -> Result:
    """Run the shards round by round on ``actors`` from the ``calibrated`` states and merge
    their states on the driver."""
    ray = _ray()
    workers = len(actors)
    merged: dict = calibrated
    units: dict = {k: run.units[k] for k in merged}
    n_symbols = run.no_symbols()
    info = {"redone": [], "merge_seconds": 0.0, "state_bytes": 0, "shard_seconds": [],
            "rounds": 0, "resumed": None}
    read, i = 0, 0
    run_id = ckpt.run_key(run, data, shards, seed) if checkpoint else None
    saved = ckpt.load(Path(checkpoint), run_id) if checkpoint else None
    if saved:
        read, i, n_symbols = saved["read"], saved["shards_done"], saved["symbols"]
        for k, (n_units, st) in saved["states"].items():
            units[k] = n_units
            merged[k] = receive(functools.partial(run.make, k, n_units), st)
        info["resumed"] = f"{i} of {len(shards)} shards from {checkpoint}"
    stopped = "end of data" if len(order) == len(data) else "sample limit"
    looks = Looks(tolerance, top_k, run.insp)
    with torch.inference_mode(), tqdm(total=len(order), initial=read, desc="inspect (ray)",
                                      unit="rec", disable=not progress) as bar:
        while i < len(shards):
            parallel = merged and all(settled(v) for v in merged.values())
            todo = list(range(i, min(i + (workers if parallel else 1), len(shards))))
            jobs = {j: (shards[j], _forks(merged, units, offsets[j])) for j in todo}
            results = _run_round(ray, remote, args, actors, jobs, info)
            t0 = time.perf_counter()
            for j in todo:
                states, symbols, seconds = results[j]
                info["shard_seconds"].append(round(seconds, 3))
                info["state_bytes"] = max(info["state_bytes"], state_bytes(states))
                for key, (n_units, st) in states.items():
                    units[key] = n_units
                    part = receive(functools.partial(run.make, key, n_units), st)
                    if key in merged:
                        merged[key].merge(part)
                    else:
                        merged[key] = part
                for level, n in symbols.items():
                    n_symbols[level] += n
                read += len(shards[j])
                bar.update(len(shards[j]))
            info["merge_seconds"] += time.perf_counter() - t0
            info["rounds"] += 1
            i = todo[-1] + 1
            if checkpoint:
                ckpt.save(Path(checkpoint), {
                    "key": run_id, "read": read, "shards_done": i, "symbols": n_symbols,
                    "states": {k: (units[k], ship(v)) for k, v in merged.items()}})
            if tolerance is not None and i < len(shards) and looks.converged(merged):
                break
    meta = looks.finish(merged, run.meta(data, read, n_symbols, looks.stopped or stopped, seed))
    meta.update(engine="ray", workers=workers, shards=f"{i} of {len(shards)}", **info)
    meta["merge_seconds"] = round(meta["merge_seconds"], 3)
    result = Result.from_inspectors(merged, meta)  # final fits (probes) on the driver
    result.meta["seconds"] = round(time.perf_counter() - start, 3)
    return result


def _run_round(ray, remote, args, actors: list, jobs: dict, info: dict) -> dict:
    """Run each job (shard index -> (records, forks)) on its own actor; an actor that dies is
    replaced and its shard run again from the same forks. Returns each shard's result."""
    pending, tries, results = {}, {}, {}
    for slot, (j, job) in enumerate(jobs.items()):
        pending[actors[slot].shard.remote(*job)] = (j, slot)
        tries[j] = 1
    while pending:
        (ready,), _ = ray.wait(list(pending), num_returns=1)
        j, slot = pending.pop(ready)
        try:
            results[j] = ray.get(ready)
        except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError) as e:
            if tries[j] == ATTEMPTS:
                raise HyplibError(f"shard {j} failed {ATTEMPTS} times, its worker died each "
                                  f"time: {type(e).__name__}: {str(e)[:300]}") from None
            info["redone"].append(f"shard {j} ({len(jobs[j][0])} records): worker died "
                                  f"({type(e).__name__}), replaced, shard run again")
            tries[j] += 1
            actors[slot] = remote.remote(*args)
            pending[actors[slot].shard.remote(*jobs[j])] = (j, slot)
    return results


def _shards(order: np.ndarray, batch_size: int, workers: int,
            shard_records: int | None) -> list[np.ndarray]:
    """``order`` cut into shards of whole batches (so each shard batches as the local pass)."""
    if shard_records is None:
        per = math.ceil(len(order) / (4 * workers * batch_size)) * batch_size
    elif shard_records < 1:
        raise HyplibError(f"shard_records must be at least 1, not {shard_records}")
    else:
        per = math.ceil(shard_records / batch_size) * batch_size
    return [order[lo:lo + per] for lo in range(0, len(order), max(per, batch_size))]


def _offsets(run: Pass, shards: list[np.ndarray]) -> list[dict[str, int]]:
    """Each shard's first symbol's position in the pass, per level."""
    out, at = [], dict.fromkeys((lv.name for lv in run.levels), 0)
    for ids in shards:
        out.append(dict(at))
        for lv in run.levels:
            at[lv.name] += int((lv.labels.offsets[ids + 1] - lv.labels.offsets[ids]).sum())
    return out


def _forks(merged: dict, units: dict, offsets: dict[str, int]) -> dict:
    """The shipped forks of the merged states for a shard starting at ``offsets``."""
    return {key: (units[key], fork_state(insp, offsets[key[2]])) for key, insp in merged.items()}


def _layers(run: Pass) -> dict:
    return {m.name: chosen for m, chosen in run.plan.items()}
