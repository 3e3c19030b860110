"""What a unit does to the output: its direct effect on the next-token logits.

A unit of the layer the output head reads has, through the head alone, the effect
``W_out @ e_unit`` on the logits: the head's weight column for that unit (a unit raised by 1
adds that column to the logits; the bias does not depend on it). Later layers are not crossed,
so only a layer whose output *is* the head's input has a direct effect; this is checked on a
forward pass, not assumed from the layer's name.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..device import pick_device
from ..extract import record


def output_head(model) -> tuple[nn.Module, list[str]] | None:
    """The model's output head (a Linear onto the vocabulary) and its token names, or None."""
    module = model.module
    head = (module.get_output_embeddings() if hasattr(module, "get_output_embeddings")
            else getattr(module, "head", None))
    if not isinstance(head, nn.Linear):
        return None
    if hasattr(model, "tokenizer"):
        vocab = model.tokenizer.convert_ids_to_tokens(list(range(head.out_features)))
    else:
        vocab = list(getattr(model, "vocab", []))
    return (head, vocab) if len(vocab) == head.out_features else None


@torch.inference_mode()
def feeds_head(model, layer: str, text: str = "def f(x):\n    return x\n",
               device: str = "auto") -> bool:
    """Whether ``layer``'s output is exactly what the output head reads (one forward pass)."""
    found = output_head(model)
    if found is None:
        return False
    dev = pick_device(device)
    model.to(dev)
    seen = {}
    hook = found[0].register_forward_hook(lambda m, args, out: seen.setdefault("in", args[0]))
    try:
        with record(model.module, [layer], model.name) as out:
            model.forward(model.encode([text]), dev)
    finally:
        hook.remove()
    x, y = out[layer], seen.get("in")
    return y is not None and x.shape == y.shape and torch.equal(x, y)


def direct_effect(head: nn.Linear, vocab: list[str], unit: int, k: int = 10) -> pd.DataFrame:
    """The ``k`` tokens the unit promotes most and the ``k`` it suppresses most: ``token``,
    ``effect`` (the logit change per unit of activation) and ``direction``."""
    effect = head.weight.detach()[:, unit].float().cpu().numpy()  # W_out @ e_unit
    order = np.argsort(-effect, kind="stable")
    up, down = order[:k], order[::-1][:k]
    return pd.DataFrame({"token": [vocab[i] for i in np.concatenate([up, down])],
                         "effect": effect[np.concatenate([up, down])],
                         "direction": ["promotes"] * len(up) + ["suppresses"] * len(down)})
