"""Every per-unit inspector scores the same on CUDA as on the CPU."""
import numpy as np
import pytest
import torch

import hyplib
from hyplib.inspectors import AUC, IoU, MutualInfo, PointBiserial, Selectivity

B = hyplib.Hypothesis("b", lambda b: b, kind="binary")
C = hyplib.Hypothesis("c", lambda b: b, kind="categorical", classes=("p", "q", "r"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("cls", [PointBiserial, MutualInfo, AUC, IoU, Selectivity])
def test_cuda_equals_cpu(cls):
    rng = np.random.default_rng(0)
    yb, yc = rng.random(5000) < 0.2, rng.integers(0, 3, 5000)
    y = torch.from_numpy(np.column_stack([yb, np.eye(3)[yc]]).astype(np.float32))
    x = torch.from_numpy(rng.normal(size=(5000, 16)).astype(np.float32)) + y[:, :1]
    cols = B.columns if cls is PointBiserial else B.columns + C.columns
    y = y[:, :len(cols)]
    kw = {} if cls in (PointBiserial, Selectivity) else {"warmup": 2000}
    got = []
    for dev in ("cpu", "cuda"):
        insp = cls(16, cols, dev, **kw)
        for i in range(0, 5000, 999):
            insp.update(x[i:i + 999].to(dev), y[i:i + 999].to(dev))
        scores = insp.scores()
        got.append(scores if isinstance(scores, list) else [scores])
    for a, b in zip(*got):
        for field in ("score", "low", "high", "n"):
            torch.testing.assert_close(getattr(b, field).cpu(), getattr(a, field),
                                       equal_nan=True, rtol=1e-9, atol=1e-9)
