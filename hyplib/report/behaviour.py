"""What a report shows of its units: their activations on a seeded sample of the records.

The report re-runs the model on ``records`` records drawn with the result's seed (a result
keeps scores, not behaviours) and keeps only the units that get a page. A text unit's
behaviour on a character is that of the first model position covering it (``--pool first``);
a word's or a record's is its first character's. An image unit's map is upsampled bilinearly
to the label grid as in the engine; a whole image's behaviour is that map's mean.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..align import align, feature_map, interpolation_matrix, pixel_grids, symbol_spans
from ..annotation import _label_batch
from ..device import pick_device
from ..engine import _order
from ..extract import record
from ..types import Hypothesis


@dataclass
class Sample:
    """The sampled records and, per layer, the chosen units' behaviours on them.

    ``acts[layer][i]`` is record ``i``'s (units × characters) array for text, or
    (units × height × width) on its label grid for an image; ``units[layer]`` the unit indices;
    ``field`` the column the model reads.
    """

    rows: np.ndarray
    batch: dict
    units: dict[str, list[int]]
    acts: dict[str, list[np.ndarray]]
    image: bool
    field: str

    def unit(self, layer: str, unit: int) -> list[np.ndarray]:
        """One unit's behaviour per record (characters, or height × width)."""
        j = self.units[layer].index(unit)
        return [a[j] for a in self.acts[layer]]

    def symbols(self, layer: str, unit: int, hyp: Hypothesis) -> tuple[np.ndarray, np.ndarray,
                                                                          np.ndarray]:
        """The unit's behaviour, the labels and the record of every symbol of ``hyp``'s level."""
        acts = self.unit(layer, unit)
        labels = _label_batch(self.batch, list(self.rows), hyp)["labels"]
        if hyp.level == "record":
            x = [a.reshape(1, -1).mean(1) if self.image else a[:1] for a in acts]
        elif hyp.level in ("char", "pixel"):
            x = [a.reshape(-1) for a in acts]
        else:
            x = [a[spans[:, 0]] for a, spans in zip(acts, symbol_spans(self.batch, "word"))]
        record_of = np.repeat(np.arange(len(x)), [len(v) for v in x])
        return np.concatenate(x), np.concatenate(labels), record_of


@torch.inference_mode()
def sample(model, data, units: dict[str, list[int]], records: int = 200, seed: int = 0,
           batch_size: int = 16, device: str = "auto") -> Sample:
    """The chosen ``units`` (layer -> indices) of ``model`` on a seeded sample of ``data``."""
    dev = pick_device(device)
    model.to(dev)
    rows = np.sort(_order(len(data), seed, records, None))  # the engine's first ``records``
    subset = data.select(rows)
    image = "text" not in subset.column_names
    acts: dict[str, list[np.ndarray]] = {layer: [] for layer in units}
    field = getattr(model, "field", "text")
    for lo in range(0, len(subset), batch_size):
        batch = subset[lo:lo + batch_size]
        enc = model.encode(batch[field])
        with record(model.module, list(units), model.name) as seen:
            model.forward(enc, dev)
        for layer, idx in units.items():
            pick = torch.tensor(idx, device=dev)
            if image:
                acts[layer] += _upsampled(feature_map(seen[layer], layer).index_select(1, pick),
                                          pixel_grids(batch))
            else:
                chars = symbol_spans(batch, "char")
                x = align(enc.spans, chars).to(dev).gather(seen[layer].index_select(2, pick))
                ends = np.cumsum([len(c) for c in chars])[:-1]
                acts[layer] += [a.T for a in np.split(x.float().cpu().numpy(), ends)]
    return Sample(rows, subset[:], units, acts, image, field)


def _upsampled(fmap: torch.Tensor, grids: np.ndarray) -> list[np.ndarray]:
    """Each image's (units × h × w) map, bilinearly upsampled to its label grid."""
    h, w = fmap.shape[2:]
    out = []
    for f, (gh, gw) in zip(fmap.float(), grids):
        my = interpolation_matrix(h, int(gh), f.device)
        mx = interpolation_matrix(w, int(gw), f.device)
        out.append(torch.einsum("Yh,uhw,Xw->uYX", my, f, mx).cpu().numpy())
    return out
