"""Names in a script resolved to objects: models (bound in Python, recipes, or untrained
copies), data sets (filtered by WHERE), hypotheses, inspectors, and the results so far."""
from __future__ import annotations

import copy
import fnmatch
import inspect as pyinspect
from typing import Any, Callable, Mapping

import numpy as np
import torch

from ..control import PREFIX, control_task
from ..errors import HyplibError, UnknownNameError
from ..results import Result
from .conditions import columns_of, keep
from .statements import DataSpec, InspectorSpec, ModelRef


class Session:
    """Names resolved for one script (bound Python objects first, then installed packs), and
    the results computed so far."""

    def __init__(self, *, models: Mapping | None = None, data: Mapping | None = None,
                 hypotheses: Mapping | None = None, evaluations: Mapping | None = None,
                 catalog=None, device: str = "auto", batch_size: int = 32,
                 behaviour_cache: bool = False, progress: bool = True, pool: str = "first",
                 precision: str = "float32"):
        from ..plugins import catalog as default_catalog

        self.bound_models = dict(models or {})
        self.bound_data = dict(data or {})
        self.bound_hypotheses = {h.name: h for h in (hypotheses.values() if isinstance(
            hypotheses, Mapping) else hypotheses or [])}
        self.evaluations: dict[str, Callable] = dict(evaluations or {})
        self.catalog = catalog or default_catalog()
        self.options = dict(device=device, batch_size=batch_size, progress=progress, pool=pool,
                            precision=precision)
        self.write_cache = behaviour_cache
        self.results: dict[str, Result] = {}
        self._models: dict[ModelRef, Any] = {}
        self._data: dict[tuple, Any] = {}

    # names
    def model(self, ref: ModelRef):
        if ref not in self._models:
            if ref.untrained:
                self._models[ref] = untrained(self.model(ModelRef(ref.name)))
            elif ref.name in self.bound_models:
                self._models[ref] = self.bound_models[ref.name]
            else:
                recipe = self._lookup("models", ref.name, self.bound_models)
                self._models[ref] = recipe.build(progress=self.options["progress"])
        return self._models[ref]

    def _lookup(self, kind: str, name: str, bound: Mapping):
        try:
            return self.catalog.get(kind, name)
        except UnknownNameError:
            raise UnknownNameError(kind, name, sorted(set(self.catalog.names(kind)) | set(bound)))\
                from None

    def dataset(self, spec: DataSpec):
        """The records of ``spec``, filtered by its WHERE (not yet sampled)."""
        key = (spec.source, spec.where_text)
        if key not in self._data:
            if spec.source not in self._data:
                self._data[spec.source] = self._load(spec)
            data = self._data[spec.source]
            if spec.where is not None:
                fields = sorted(columns_of(spec.where) & set(data.column_names)) or data.column_names[:1]
                frame = data.select_columns(fields).to_pandas()
                try:
                    mask = keep(frame.assign(_i=np.arange(len(frame))), spec.where,
                                "field of the records")["_i"].to_numpy()
                except HyplibError as exc:
                    raise HyplibError(f"WHERE {spec.where_text}: {exc}") from None
                data = data.select(mask)
                if len(data) == 0:
                    raise HyplibError(f"no record of {spec.name!r} satisfies WHERE "
                                      f"{spec.where_text}")
            self._data[key] = data
        return self._data[key]

    def _load(self, spec: DataSpec):
        from ..data import load_path

        if spec.is_path:
            return load_path(spec.name)
        if spec.name in self.bound_data:
            if spec.args:
                raise HyplibError(f"data {spec.name!r} is bound in Python: it takes no "
                                  f"arguments")
            return self.bound_data[spec.name]
        source = self._lookup("datasets", spec.name, self.bound_data)
        try:
            return source.load(**dict(spec.args))
        except TypeError as exc:
            raise HyplibError(f"data set {spec.name!r}: {exc}") from None

    def hypotheses(self, patterns) -> list:
        out = {}
        for p in patterns:
            control = p.startswith(PREFIX)
            base = p[len(PREFIX):] if control else p
            bound = fnmatch.filter(self.bound_hypotheses, base)
            if bound:
                for n in bound:
                    h = self.bound_hypotheses[n]
                    h = control_task(h) if control else h
                    out[h.name] = h
                continue
            try:
                hits = self.catalog.select("hypotheses", [p])
            except UnknownNameError:
                names = sorted(set(self.catalog.names("hypotheses")) | set(self.bound_hypotheses))
                raise UnknownNameError("hypotheses", p, names) from None
            out.update({h.name: h for h in hits})
        return list(out.values())

    def inspector(self, spec: InspectorSpec) -> type:
        cls = self.catalog.get("inspectors", spec.name)
        try:
            pyinspect.signature(cls).bind(1, [], "cpu", **dict(spec.args))
        except TypeError:
            params = [p for p in list(pyinspect.signature(cls).parameters)[3:]]
            raise HyplibError(f"inspector {spec.name!r} does not take "
                              f"{', '.join(k for k, _ in spec.args)}; its parameters: "
                              f"{', '.join(params) or 'none'}") from None
        return cls

    def units(self, name: str) -> dict[tuple[str, str], tuple[int, ...]]:
        """``{(model, layer): unit indices}`` of a named result's rows (groups left out)."""
        t = self.results[name].table
        if not {"model", "layer", "unit"} <= set(t.columns):
            raise HyplibError(f"result {name!r} has no unit rows (model, layer, unit): UNITS OF "
                              f"reads an INSPECT result or a FROM of one")
        t = t[t["unit"] >= 0]
        if t.empty:
            raise HyplibError(f"result {name!r} has no units (it is empty, or holds only "
                              f"probes' groups): nothing to select")
        return {k: tuple(sorted(set(g["unit"].astype(int)))) for k, g in
                t.groupby(["model", "layer"], sort=True)}

    def by_model_name(self, name: str):
        for m in self._models.values():
            if m.name == name:
                return m
        raise HyplibError(f"model {name!r} named by a result is not loaded in this script")


def untrained(model, seed: int = 0):
    """A copy of ``model`` with every parameter re-initialised by its module's own
    ``reset_parameters`` under ``seed``, named ``untrained-<name>``."""
    clone = copy.copy(model)
    clone.module = copy.deepcopy(model.module)
    clone.name = f"untrained-{model.name}"
    resets = [m for m in clone.module.modules() if callable(getattr(m, "reset_parameters", None))]
    covered = {id(p) for m in resets for p in m.parameters()}
    left = [n for n, p in clone.module.named_parameters() if id(p) not in covered]
    if left:
        raise HyplibError(f"cannot re-initialise {model.name!r}: parameters {left[:3]} belong to "
                          f"no module with reset_parameters(); bind an untrained model in "
                          f"Python instead (models={{'name': model}})")
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        for m in resets:
            m.reset_parameters()
    return clone
