"""The probes' reservoir: a uniform sample whatever the batching, holding only what it saw."""
from pathlib import Path

import numpy as np
import torch

from hyplib.inspectors.streaming import Reservoir, uniform


def _fill(batch: int, n: int, size: int = 500) -> Reservoir:
    r = Reservoir(size, [((3,), torch.float32)], "cpu", salt=7)
    x = torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 3)
    for lo in range(0, n, batch):
        r.add(torch.arange(lo, min(lo + batch, n)), x[lo:lo + batch])
    return r


def test_batching_does_not_change_the_sample_and_equals_algorithm_r():
    a, b = _fill(1, 3000), _fill(256, 3000)
    torch.testing.assert_close(a.rows()[0], b.rows()[0])
    slots = np.arange(500)  # sequential algorithm R with the same hashed draws
    u = uniform(torch.arange(3000), 7).numpy()
    for i in range(500, 3000):
        j = int(u[i] * (i + 1))
        if j < 500:
            slots[j] = i
    np.testing.assert_array_equal(a.rows()[0][:, 0].numpy(), slots)


def _rss_mib(field: str) -> float:
    text = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) for line in text.splitlines() if line.startswith(field)) / 1024


def test_memory_follows_the_stream_not_the_capacity():
    Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) starts from here
    before = _rss_mib("VmRSS")
    big = _fill(64, 40, size=50_000_000)  # a capacity of 600 MB of rows
    assert _rss_mib("VmHWM") - before < 50 and big.rows()[0].shape == (40, 3)
    short = _fill(64, 40, size=100_000)
    assert short.rows()[0].shape == (40, 3)
    state = short.state_dict()
    assert state["buffers"][0].shape == (40, 3)
    again = Reservoir(100_000, [((3,), torch.float32)], "cpu", salt=7)
    again.load_state_dict(state)
    torch.testing.assert_close(again.rows()[0], short.rows()[0])
