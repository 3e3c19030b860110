"""Extraction: record the outputs of layers named by dotted module name with forward hooks."""
from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import torch
from torch import nn

from .errors import BehaviourError, LayerError


def layer_names(module: nn.Module) -> list[str]:
    """Every hookable layer of ``module``, by dotted module name."""
    return [name for name, _ in module.named_modules() if name]


def resolve_layers(module: nn.Module, names: Sequence[str], model: str = "model"
                   ) -> dict[str, nn.Module]:
    """Map each dotted name to its submodule; a wrong name lists the valid ones."""
    found = {}
    for name in names:
        try:
            found[name] = module.get_submodule(name)
        except AttributeError:
            raise LayerError(model, name, layer_names(module)) from None
    return found


def as_behaviour(output, layer: str, batch_first: bool = True) -> torch.Tensor:
    """A layer's output as (batch, positions, units): the first tensor of a tuple output
    (an LSTM's per-step states), sequences kept as they are, (batch, units) as one position;
    a conv layer's (batch, channels, h, w) feature map is kept as it is."""
    if isinstance(output, (tuple, list)):
        output = output[0]
    if isinstance(output, nn.utils.rnn.PackedSequence):
        output, _ = nn.utils.rnn.pad_packed_sequence(output, batch_first=True)
    elif not batch_first and isinstance(output, torch.Tensor) and output.dim() == 3:
        output = output.transpose(0, 1)
    if not isinstance(output, torch.Tensor):
        raise BehaviourError(f"layer {layer!r} returned {type(output).__name__}, not a tensor")
    if output.dim() == 2:
        return output[:, None, :]
    if output.dim() not in (3, 4):
        raise BehaviourError(f"layer {layer!r} returned shape {tuple(output.shape)}; expected "
                             f"(batch, positions, units), (batch, units) or a feature map "
                             f"(batch, channels, h, w)")
    return output


@contextlib.contextmanager
def record(module: nn.Module, layers: Sequence[str], model: str = "model"
           ) -> Iterator[dict[str, torch.Tensor]]:
    """Within the block, each forward pass fills the dict with ``layer -> behaviour``.

    The hooks are always removed, even when the block raises.
    """
    seen: dict[str, torch.Tensor] = {}
    handles = []

    def hook_for(name):
        def hook(sub, _inputs, output):
            seen[name] = as_behaviour(output, name, getattr(sub, "batch_first", True))
        return hook

    try:
        found = resolve_layers(module, layers, model)
        for name, sub in found.items():
            handles.append(sub.register_forward_hook(hook_for(name)))
        yield seen
        silent = [name for name in found if name not in seen]
        if silent:
            members = [f"{silent[0]}.{child}" for child, _ in found[silent[0]].named_children()]
            hint = f", e.g. {', '.join(members[:3])}" if members else ""
            raise BehaviourError(f"layer {silent[0]!r} of model {model!r} was not called in the "
                                 f"forward pass (a container such as a ModuleList is never "
                                 f"called itself): choose a layer that runs{hint}")
    finally:
        for handle in handles:
            handle.remove()
