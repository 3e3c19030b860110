"""The distributions as a user gets them: every one built (wheel and sdist) onto a local PEP 503
index, `hyplib` alone installed in a fresh venv, then the registry's pack `pos` searched,
installed (hash-checked), used and uninstalled, with no source checkout on the path.

Slow (minutes: pip installs torch and the packs' dependencies into the new venv); it runs in CI.
The venv takes a CPU-only torch when pip's indexes offer one (this test needs no GPU, and the CUDA
build is 5 GB to unpack), or what ``$HYPLIB_TEST_PIP_CONSTRAINT`` (a pip constraints file) pins.
The transcript, with the time of each step, is printed (``pytest -s``).
"""
import json
import os
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from hyplib import registry as R
from hyplib.plugins import catalog
from hyplib.registry.install import requires

ROOT = Path(__file__).resolve().parents[1]
UD = os.environ.get("HYPLIB_UD_EWT")

pytestmark = pytest.mark.slow


class Transcript:
    """Runs commands in a clean environment, recording each one's output and duration."""

    def __init__(self, tmp: Path, cwd: Path, env: dict):
        self.tmp, self.cwd, self.env, self.lines = str(tmp), cwd, env, []

    def __call__(self, *cmd, ok: bool = True) -> subprocess.CompletedProcess:
        start = time.perf_counter()
        run = subprocess.run([str(c) for c in cmd], cwd=self.cwd, env=self.env,
                             capture_output=True, text=True)
        took = time.perf_counter() - start
        shown = " ".join(map(str, cmd)).replace(self.tmp, "$TMP")
        self.lines.append(f"$ {shown}    # {took:.1f} s, exit {run.returncode}")
        out = run.stdout.strip().splitlines()[:12] + run.stderr.strip().splitlines()[-1:]
        self.lines += [f"  {line}".replace(self.tmp, "$TMP") for line in out]
        assert (run.returncode == 0) == ok, f"{shown}:\n{run.stdout}\n{run.stderr[-3000:]}"
        return run


def _cpu_torch(versions: str, path: Path) -> str:
    """A constraints file pinning the newest CPU-only torch that hyplib allows, if pip lists one
    (``pip index versions torch``); "" otherwise."""
    from packaging.version import Version

    allowed = next(Requirement(r) for r in metadata.requires("hyplib") if r.startswith("torch"))
    listed = versions.split("Available versions:", 1)[-1].splitlines()[0].split(",")
    cpu = [v for v in map(Version, map(str.strip, listed)) if v.local == "cpu"
           and allowed.specifier.contains(v)]
    if not cpu:
        return ""
    path.write_text(f"torch=={max(cpu)}\n")
    return str(path)


@pytest.mark.skipif(not UD, reason="needs UD English-EWT (HYPLIB_UD_EWT)")
def test_fresh_venv_search_install_inspect_uninstall(tmp_path):
    dists, work = tmp_path / "dists", tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", R.ENV_VAR, "HYPLIB_PLUGINS")}
    env.update(HYPLIB_CACHE=str(tmp_path / "cache"), HYPLIB_UD_EWT=str(Path(UD).resolve()),
               OMP_NUM_THREADS="1", PIP_NO_INPUT="1", HYPLIB_VENV=sys.prefix)
    run = Transcript(tmp_path, work, env)

    # Maintainer: build every distribution onto a local index; record their hashes in a registry.
    run(ROOT / "scripts" / "build-dists", dists)
    built = sorted(p.name for p in dists.iterdir() if p.is_file())
    names = ["hyplib", "hyplib_zoo", *(f"hyplib_{p.name}" for p in sorted(
        (ROOT / "hypotheses").iterdir()) if (p / "pyproject.toml").exists())]
    assert built == sorted([f"{n}-0.2.0-py3-none-any.whl" for n in names]
                           + [f"{n}-0.2.0.tar.gz" for n in names])
    for artefact in dists.glob("hyplib_*"):  # each pack: a compatible range of hyplib
        core = [r for r in map(Requirement, requires(artefact)) if r.name == "hyplib"]
        assert [r.specifier.contains(v) for r in core for v in ("0.2.0", "0.3.0")] == [True, False]
    for part in ("hypotheses", "zoo"):
        (tmp_path / part).symlink_to(ROOT / part)
    shutil.copy(ROOT / "registry.json", tmp_path / "registry.json")
    R.update(tmp_path / "registry.json", catalog(), dists=dists)
    newer = json.loads((tmp_path / "registry.json").read_text())
    newer["packs"] = [e for e in newer["packs"] if e["name"] != "vision"]  # what hyplib ships differs
    (tmp_path / "registry.json").write_text(json.dumps(newer))
    pos = R.load(tmp_path / "registry.json").get("pos")
    assert pos["requirement"] == "hyplib-pos>=0.2,<0.3"
    assert {f["filename"] for f in pos["files"]} == {"hyplib_pos-0.2.0-py3-none-any.whl",
                                                     "hyplib_pos-0.2.0.tar.gz"}

    # User: a fresh venv with hyplib alone, from the local index and pip's configured ones.
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    py, hyplib = venv / "bin" / "python", venv / "bin" / "hyplib"
    constraint = os.environ.get("HYPLIB_TEST_PIP_CONSTRAINT") or _cpu_torch(
        run(py, "-m", "pip", "index", "versions", "torch").stdout, tmp_path / "cpu.txt")
    if constraint:
        env["PIP_CONSTRAINT"] = constraint
    run(py, "-m", "pip", "install", "-q", "--find-links", dists, "hyplib==0.2.0")
    where = run(py, "-c", "import hyplib, importlib.metadata as m; print(hyplib.__file__); "
                "print(sorted(d.name for d in m.distributions() if 'hyplib' in d.name))")
    assert where.stdout.startswith(str(venv)) and where.stdout.splitlines()[1] == "['hyplib']"

    assert "vision " in run(hyplib, "registry", "list").stdout
    fetched = run(hyplib, "registry", "update", "--url", (tmp_path / "registry.json").as_uri())
    assert "vision: no longer in the registry" in fetched.stdout
    assert "vision " not in run(hyplib, "registry", "list").stdout
    found = run(hyplib, "registry", "search", "pos").stdout
    assert found.startswith("pos ") and "pos.upos" in found
    missing = run(hyplib, "inspect", "--model", "wordlm-tiny", "--data", "ud-english-ewt",
                  "--hypotheses", "pos.upos", ok=False)
    assert "hyplib registry install" in missing.stderr
    run(hyplib, "registry", "install", "pos", "--find-links", dists)
    listed = run(hyplib, "list", "hypotheses").stdout
    assert "pos.upos" in listed
    table = run(hyplib, "inspect", "--model", "wordlm-tiny", "--data", "ud-english-ewt",
                "--hypotheses", "pos.upos.NOUN", "pos.upos.VERB", "--max-records", "100",
                "--top", "2", "--quiet").stdout
    assert table.startswith("wordlm-tiny on ud-english-ewt: 100 of ")
    rows = [line.split() for line in table.splitlines()[2:]]
    assert {r[0] for r in rows} == {"pos.upos.NOUN", "pos.upos.VERB"} and len(rows) == 4
    assert all(-1 <= float(r[4]) <= 1 for r in rows)

    run(hyplib, "registry", "uninstall", "pos")
    run(py, "-c", "import hyplib_pos", ok=False)
    assert "pos.upos" not in run(hyplib, "list", "hypotheses").stdout
    print("\n" + "\n".join(run.lines))
