"""Interventions: ablate chosen units of chosen layers while a block runs.

``with ablate(model, ["wordlm:lstm.1[12]", "wordlm:lstm.1[40]"]): ...`` (or
``{"lstm.1": [12, 40]}``) sets those units to a value (0 by default; per unit, e.g. their means
from :func:`unit_means`) with forward hooks on the layers, named by dotted module name. Any
forward pass inside the block sees the ablated network: an evaluation, or ``hyplib.inspect``.
The hooks are removed when the block ends, also when it raises.

What "ablate" means:

- For most layers, the unit's output (the last dimension; the channel of a 4-d feature map) is
  replaced at every position before anything downstream reads it.
- For an ``nn.LSTM``, replacing its output would leave the recurrence untouched (the fused
  kernel has already fed the unit's h to the next steps). So the layer is re-run step by step
  by :func:`run_lstm` with the unit's hidden state h_t replaced at every step (the initial
  state included), before it feeds
  the next step's gates, the next layer and the output. As a unit acts on the rest of the
  network only through h (its cell state c reaches nothing but its own h), this removes the
  unit entirely; setting h to v instead makes it a constant input v. In a multi-layer
  ``nn.LSTM`` the indices are units of its last layer (the module's output). Other recurrent
  layers (``nn.RNN``, ``nn.GRU``) are refused rather than ablated only at their output.

Ablation changes no weights, so while a block is active :func:`active` describes it and the
behaviour cache adds that description to the model's key: cached behaviours of the intact
model are never served to an ablated one, nor the reverse.
"""
from __future__ import annotations

import contextlib
import re
import weakref
from typing import Iterator, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from .errors import HyplibError
from .extract import resolve_layers

_ACTIVE: "weakref.WeakKeyDictionary[nn.Module, list]" = weakref.WeakKeyDictionary()
UNIT = re.compile(r"(?:(?P<model>[^:\[\]]+):)?(?P<layer>[^:\[\]]+)\[(?P<index>\d+)\]")
Units = Sequence[str] | Mapping[str, Sequence[int]]


def parse_units(units: Units, model: str | None = None) -> dict[str, list[int]]:
    """``{layer: [indices]}`` from unit names ``model:layer[index]`` (the model part optional,
    and checked against ``model``) or from such a mapping; indices sorted, duplicates dropped."""
    if isinstance(units, str):
        units = [units]
    if isinstance(units, Mapping):
        chosen = {str(k): [int(i) for i in np.asarray(v, dtype=np.int64).reshape(-1)]
                  for k, v in units.items()}
    else:
        chosen = {}
        for name in units:
            m = UNIT.fullmatch(str(name).strip())
            if m is None:
                raise HyplibError(f"cannot read the unit name {name!r}: write model:layer[index], "
                                  f"e.g. 'wordlm:lstm.1[12]', or pass {{layer: [indices]}}")
            if model is not None and m["model"] not in (None, model):
                raise HyplibError(f"unit {name!r} belongs to model {m['model']!r}, but the model "
                                  f"being ablated is {model!r}")
            chosen.setdefault(m["layer"], []).append(int(m["index"]))
    for layer, idx in chosen.items():
        if any(i < 0 for i in idx):
            raise HyplibError(f"layer {layer!r}: unit indices must be >= 0, got {idx}")
    return {layer: sorted(set(idx)) for layer, idx in chosen.items()}


def _width(sub: nn.Module) -> int | None:
    """The number of units a module outputs, where its type says so."""
    for attr in ("hidden_size", "out_features", "embedding_dim", "out_channels",
                 "num_features"):
        if isinstance(getattr(sub, attr, None), int):
            return getattr(sub, attr)
    return None


def _check_lstm(sub: nn.Module, layer: str) -> None:
    if isinstance(sub, nn.LSTM):
        if sub.bidirectional or sub.proj_size:
            raise HyplibError(f"layer {layer!r}: ablation of a bidirectional or projected "
                              f"nn.LSTM is not supported; use unidirectional layers")
    elif isinstance(sub, nn.RNNBase):
        raise HyplibError(f"layer {layer!r} is an nn.{type(sub).__name__}: recurrent ablation "
                          f"is implemented for nn.LSTM only (ablating its output would leave "
                          f"its recurrence intact)")


def _check_index(layer: str, idx: list[int], width: int | None) -> None:
    if width is not None and max(idx, default=-1) >= width:
        raise HyplibError(f"layer {layer!r} has {width} units (0..{width - 1}); cannot ablate "
                          f"unit {max(idx)}")


def _fill(value, layer: str, idx: list[int], width: int, like: torch.Tensor
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """A (width,) mask of the chosen units and a (width,) tensor holding their values."""
    _check_index(layer, idx, width)
    per = value[layer] if isinstance(value, Mapping) else value
    per = torch.as_tensor(per, dtype=like.dtype, device=like.device).reshape(-1)
    if per.numel() not in (1, len(idx)):
        raise HyplibError(f"layer {layer!r}: {per.numel()} values for {len(idx)} units")
    at = torch.tensor(idx, dtype=torch.long, device=like.device)
    mask = torch.zeros(width, dtype=torch.bool, device=like.device).index_fill_(0, at, True)
    fill = torch.zeros(width, dtype=like.dtype, device=like.device).index_put_(
        (at,), per.expand(len(idx)))
    return mask, fill


def run_lstm(lstm: nn.LSTM, x: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None = None,
             mask: torch.Tensor | None = None, fill: torch.Tensor | None = None):
    """Run ``lstm`` step by step with its own weights; returns what ``lstm(x, hx)`` returns.

    Where ``mask`` is set, the last layer's hidden state is replaced by ``fill`` in the initial
    state and at every step, before the next step reads it. The input-to-gate products of all
    steps are one matrix product per layer; only the recurrence goes step by step.
    """
    unbatched = x.dim() == 2
    if unbatched:
        x = x[None] if lstm.batch_first else x[:, None]
        hx = tuple(s[:, None] for s in hx) if hx is not None else None
    if not lstm.batch_first:
        x = x.transpose(0, 1)
    batch, hidden = x.shape[0], lstm.hidden_size
    if hx is None:
        zeros = x.new_zeros(lstm.num_layers, batch, hidden)
        hx = (zeros, zeros)
    h_last, c_last = [], []
    for k in range(lstm.num_layers):
        w_ih, w_hh = getattr(lstm, f"weight_ih_l{k}"), getattr(lstm, f"weight_hh_l{k}")
        pre = x @ w_ih.T
        if lstm.bias:
            pre = pre + getattr(lstm, f"bias_ih_l{k}") + getattr(lstm, f"bias_hh_l{k}")
        h, c = hx[0][k], hx[1][k]
        held = mask is not None and k == lstm.num_layers - 1
        if held:
            h = torch.where(mask, fill, h)
        steps = []
        for t in range(x.shape[1]):  # the recurrence: one small product per step
            i, f, g, o = (pre[:, t] + h @ w_hh.T).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            if held:
                h = torch.where(mask, fill, h)
            steps.append(h)
        x = torch.stack(steps, dim=1) if steps else x.new_zeros(batch, 0, hidden)
        if lstm.training and lstm.dropout and k < lstm.num_layers - 1:
            x = nn.functional.dropout(x, lstm.dropout, training=True)
        h_last.append(h)
        c_last.append(c)
    out, state = x, (torch.stack(h_last), torch.stack(c_last))
    if not lstm.batch_first:
        out = out.transpose(0, 1)
    if unbatched:
        out = out[0] if lstm.batch_first else out[:, 0]
        state = tuple(s[:, 0] for s in state)
    return out, state


def _lstm_hook(layer: str, idx: list[int], value):
    def hook(sub, args, kwargs, _output):
        x = args[0] if args else kwargs["input"]
        hx = args[1] if len(args) > 1 else kwargs.get("hx")
        if isinstance(x, nn.utils.rnn.PackedSequence):
            raise HyplibError(f"layer {layer!r}: ablation runs the LSTM step by step on padded "
                              f"tensors, not on a PackedSequence")
        mask, fill = _fill(value, layer, idx, sub.hidden_size, x)
        return run_lstm(sub, x, hx, mask, fill)
    return hook


def _output_hook(layer: str, idx: list[int], value):
    def hook(_sub, _args, _kwargs, output):
        first = output[0] if isinstance(output, (tuple, list)) else output
        if not isinstance(first, torch.Tensor):
            raise HyplibError(f"layer {layer!r} returned {type(first).__name__}; only tensor "
                              f"outputs (or tuples starting with one) can be ablated")
        dim = 1 if first.dim() == 4 else -1
        mask, fill = _fill(value, layer, idx, first.shape[dim], first)
        shape = (-1, 1, 1) if dim == 1 else (-1,)
        changed = torch.where(mask.view(shape), fill.view(shape), first)
        if isinstance(output, (tuple, list)):
            return type(output)([changed, *output[1:]])
        return changed
    return hook


@contextlib.contextmanager
def ablate(model, units: Units, value: float | Mapping[str, Sequence[float]] = 0.0
           ) -> Iterator[dict[str, list[int]]]:
    """Within the block, ``units`` of ``model`` (a TextModel or an nn.Module) read ``value``.

    ``value`` is one number for all units, or ``{layer: [one value per unit, in sorted index
    order]}`` (see :func:`unit_means`). Yields the ``{layer: [indices]}`` ablated. A wrong
    layer name lists the valid ones; the hooks run before any other hook on the layer (so
    ``hyplib.inspect`` records the ablated values) and are removed on exit.
    """
    module = getattr(model, "module", model)
    name = getattr(model, "name", None)
    chosen = parse_units(units, name)
    subs = resolve_layers(module, list(chosen), name or "model")
    for layer, sub in subs.items():
        _check_lstm(sub, layer)
        _check_index(layer, chosen[layer], _width(sub))
    handles = []
    spec = {"ablate": chosen, "value": value}
    _ACTIVE.setdefault(module, []).append(spec)
    try:
        for layer, sub in subs.items():
            make = _lstm_hook if isinstance(sub, nn.LSTM) else _output_hook
            handles.append(sub.register_forward_hook(make(layer, chosen[layer], value),
                                                     prepend=True, with_kwargs=True))
        yield chosen
    finally:
        for handle in handles:
            handle.remove()
        _ACTIVE[module].remove(spec)


def active(module: nn.Module) -> list[dict]:
    """The ablations now active on ``module``, outermost first (empty when intact)."""
    return list(_ACTIVE.get(module, []))


def unit_means(model, texts: list[str], units: Units, device: str | torch.device = "auto"
               ) -> dict[str, list[float]]:
    """The mean of each unit over every position of ``texts``: the values of a mean ablation,
    in the order :func:`ablate` expects."""
    from .engine import behaviours

    chosen = parse_units(units, model.name)
    seen = behaviours(model, texts, list(chosen), device)
    return {layer: np.concatenate(seen[layer])[:, idx].mean(0).tolist()
            for layer, idx in chosen.items()}
