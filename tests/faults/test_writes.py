"""Writes that fail cleanly: a full disk or a read-only cache is a clear error and leaves
nothing behind; a killed run's temporary files are removed by the next one."""
import errno
import os
import signal
import subprocess
import sys
import time

import pytest

from hyplib import cli
from hyplib.annotation import annotate
from hyplib.cache import atomic_path, cache_dir
from hyplib.checkpoints import checkpoint
from hyplib.engine import inspect
from hyplib.errors import CacheWriteError
from hyplib.integrity import STALE_SECONDS, sweep_parts
from hyplib.testing import PlantedModel

from ..conftest import digit


def _full(*_a, **_k):
    raise OSError(errno.ENOSPC, "No space left on device")


def _files(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_disk_full_while_preallocating_the_behaviour_file(cache, records, monkeypatch):
    monkeypatch.setattr(os, "posix_fallocate", _full)
    with pytest.raises(CacheWriteError, match=r"could not write .*features-char-.*\.npy: No "
                                              r"space left on device; free some disk space"):
        inspect(PlantedModel(), records, [digit], behaviour_cache=True, progress=False)
    assert _files(cache / "behaviours") == []


def test_disk_full_when_fallocate_is_unsupported_writes_zeros_and_fails_cleanly(
        cache, records, monkeypatch):
    def unsupported(*_a):
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    monkeypatch.setattr(os, "posix_fallocate", unsupported)
    inspect(PlantedModel(), records, [digit], behaviour_cache=True, progress=False)
    assert len([f for f in _files(cache / "behaviours") if f.endswith(".npy")]) == 1


def test_behaviour_file_has_no_holes(cache, records):
    inspect(PlantedModel(), records, [digit], behaviour_cache=True, progress=False)
    [path] = (cache / "behaviours").glob("*.npy")
    assert path.stat().st_blocks * 512 >= path.stat().st_size  # allocated, not sparse


def test_disk_full_while_annotating(cache, texts, monkeypatch):
    from datasets.arrow_writer import ArrowWriter

    monkeypatch.setattr(ArrowWriter, "write_batch", _full)
    with pytest.raises(CacheWriteError, match=r"could not write .*test\.digit-.*\.arrow: No space"):
        annotate(texts, [digit], progress=False)
    assert [f for f in _files(cache / "annotations")] == []


def test_disk_full_while_saving_a_checkpoint(cache, monkeypatch):
    from pathlib import Path

    monkeypatch.setattr(Path, "write_bytes", _full)
    with pytest.raises(CacheWriteError, match=r"fault-ckpt-.*\.pt: No space left"):
        checkpoint("fault-ckpt", {"v": 1}, lambda: {"w": 1})
    assert _files(cache / "models") == []


def test_read_only_cache_is_a_clear_error(cache, texts, monkeypatch):
    import tempfile

    def read_only(*_a, **_k):
        raise OSError(errno.EROFS, "Read-only file system")

    cache_dir("annotations")
    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(CacheWriteError, match="Read-only file system; make the folder writable, "
                                              "or point HYPLIB_CACHE"):
        annotate(texts, [digit], progress=False)


def test_unwritable_cache_root_is_a_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("HYPLIB_CACHE", str(blocker / "cache"))  # below a file: cannot be made
    with pytest.raises(CacheWriteError, match=f"could not write {blocker}/cache"):
        cache_dir("annotations")


WRITER = '''
import sys, time
from hyplib.cache import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    with open(tmp, "wb") as f:
        f.write(b"x" * 100000)
        f.flush()
        print("writing", flush=True)
        time.sleep(600)
'''


def test_sigkill_mid_write_leaves_a_part_the_next_run_removes(cache):
    folder = cache_dir("annotations")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(folder / "x.arrow")],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    parts = list(folder.glob(".*.part"))
    assert len(parts) == 1 and not (folder / "x.arrow").exists()
    cache_dir("annotations")  # the next start sweeps it
    assert list(folder.glob(".*.part")) == []


def test_sweep_keeps_live_writers_and_removes_old_parts(tmp_path):
    with atomic_path(tmp_path / "live.npy") as tmp:
        tmp.write_bytes(b"1")
        foreign = tmp_path / ".other.npy.elsewhere-1.abc.part"
        foreign.write_bytes(b"2")
        assert sweep_parts(tmp_path) == []  # ours is alive; another host's is young
        old = time.time() - STALE_SECONDS - 60
        os.utime(foreign, (old, old))
        assert sweep_parts(tmp_path) == [foreign]
        assert tmp.exists()


def test_out_is_checked_before_the_run(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    base = ["inspect", "--model", "charlm-tiny", "--data", "python-stdlib", "--hypotheses",
            "text.is_space", "--out"]
    assert cli.main(base + [str(blocker / "results.csv")]) == 2
    err = capsys.readouterr().err
    assert f"cannot write results to '{blocker}/results.csv': " in err
    assert "choose a writable --out" in err
    assert cli.main(base + [str(tmp_path / "results.txt")]) == 2
    assert "use a .parquet or .csv name" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [blocker]  # the check left nothing behind


FILL = '''
import datasets, numpy as np
from hyplib.engine import inspect
from hyplib.errors import CacheWriteError
from hyplib.testing import PlantedModel
import hyplib
digit = hyplib.hypothesis("fault.digit")(lambda text: [c.isdigit() for c in text])
rng = np.random.default_rng(0)
data = datasets.Dataset.from_dict({"text": ["".join(rng.choice(list("ab1 "), 500))
                                            for _ in range(40)]})
try:
    inspect(PlantedModel(), data, [digit], behaviour_cache=True, progress=False)
except CacheWriteError as exc:
    print("clear error:", exc)
'''


@pytest.fixture
def small_disk(tmp_path):
    """A real 256 KiB file system (a tmpfs: needs root, else the test is skipped)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def test_a_really_full_disk_is_a_clear_error_not_a_sigbus(small_disk):
    """20,000 symbols × 12 units of float32 (960 KB) do not fit in 256 KiB."""
    env = {**os.environ, "HYPLIB_CACHE": str(small_disk), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", FILL], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]  # no SIGBUS (-7)
    assert "clear error: could not write" in out.stdout and "No space left on device" in out.stdout
    assert _files(small_disk / "behaviours") == []  # nothing left behind
