"""Inspector states between processes: fork a state for a later shard, ship it as a state dict,
merge the shards' states back in stream order (the contract of :class:`hyplib.types.Inspector`)."""
from __future__ import annotations

from typing import Callable

import torch

from ..types import Inspector


def fork(inspector: Inspector, make: Callable[[], Inspector], offset: int) -> Inspector:
    """An empty inspector continuing ``inspector``'s stream at symbol ``offset``: its own
    ``fork`` if it has one, else a fresh one from ``make``."""
    own = getattr(inspector, "fork", None)
    return own(offset) if own is not None else make()


def fork_state(inspector: Inspector, offset: int) -> dict | None:
    """What a worker needs to continue ``inspector``'s stream at ``offset``: the shipped state
    of its fork, or ``None`` for an inspector without ``fork`` (the worker makes a fresh one)."""
    own = getattr(inspector, "fork", None)
    return None if own is None else ship(own(offset))


def settled(inspector: Inspector) -> bool:
    """Whether later parts of the stream may run in parallel from this state."""
    return bool(getattr(inspector, "settled", True))


def ship(inspector: Inspector) -> dict:
    """The inspector's state dict with every tensor on the CPU, ready to pickle."""
    return _cpu(inspector.state_dict())


def receive(make: Callable[[], Inspector], state: dict) -> Inspector:
    """An inspector from ``make`` holding a shipped ``state``."""
    inspector = make()
    inspector.load_state_dict(state)
    return inspector


def state_bytes(state) -> int:
    """The bytes of the tensors in a (nested) state dict."""
    if torch.is_tensor(state):
        return state.numel() * state.element_size()
    if isinstance(state, dict):
        return sum(state_bytes(v) for v in state.values())
    if isinstance(state, (list, tuple)):
        return sum(state_bytes(v) for v in state)
    return 0


def _cpu(state):
    if torch.is_tensor(state):
        return state.detach().cpu()
    if isinstance(state, dict):
        return {k: _cpu(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(_cpu(v) for v in state)
    return state
