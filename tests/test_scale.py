"""The Ray engine (hyplib.scale) on a local two-CPU cluster: the same result as the local engine,
and a worker killed mid-run is replaced without counting its shard twice; an interrupted run
resumes; the CLI runs on the cluster the tests started."""
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import hyplib
from hyplib.engine import CALIBRATION_SEED, inspect
from hyplib.testing import PlantedModel

ray = pytest.importorskip("ray")


@hyplib.hypothesis("scale.digit")
def digit(text):
    return [c.isdigit() for c in text]


@hyplib.hypothesis("scale.kind", kind="categorical", classes=("digit", "upper", "other"))
def char_kind(text):
    return ["digit" if c.isdigit() else "upper" if c.isupper() else "other" for c in text]


@hyplib.hypothesis("scale.position", kind="continuous")
def position(text):
    return [i / max(len(text), 1) for i in range(len(text))]


HYPS = [digit, char_kind, position]
INSPECTORS = ["correlation", "selectivity", "mutual_info", "auc", "iou", "linear_probe"]
ARGS = {"mutual_info": {"warmup": 3000}, "auc": {"warmup": 3000, "bins": 64},
        "iou": {"warmup": 3000, "bins": 64, "quantile": 0.95, "sketch_k": 64}}


class FailsOnce(PlantedModel):
    """The planted model, failing the first time it meets record ``text`` (a marker file
    remembers that it did): its process exits (``exit=True``) or it raises."""

    def __init__(self, text: str, marker: str, exit: bool):
        super().__init__()
        self.text, self.marker, self.exit = text, marker, exit

    def encode(self, texts):
        if self.text in texts and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            if self.exit:
                os._exit(1)
            raise RuntimeError("interrupted")
        return super().encode(texts)


@pytest.fixture(scope="module")
def cluster():
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"HYPLIB_CACHE": os.environ["HYPLIB_CACHE"]}})
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def data():
    import datasets

    rng = np.random.default_rng(4)
    alphabet = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.()"))
    texts = ["".join(rng.choice(alphabet, size=rng.integers(5, 120))) for _ in range(240)]
    return datasets.Dataset.from_dict({"text": texts})


def _run(model, data, **kw):
    return inspect(model, data, HYPS, INSPECTORS, inspector_args=ARGS, batch_size=16,
                   device="cpu", progress=False, **kw)


def _same(got, want):
    """Every row of the two tables: the same keys, scores, intervals and n (to 1e-6: shards
    sum their float32 blocks apart)."""
    a, b = got.table, want.table
    assert len(a) == len(b) > 0
    assert (a[["unit_name", "hypothesis", "label", "inspector", "metric"]].values
            == b[["unit_name", "hypothesis", "label", "inspector", "metric"]].values).all()
    for col in ("score", "ci_low", "ci_high", "n"):
        np.testing.assert_allclose(a[col].to_numpy(float), b[col].to_numpy(float), rtol=1e-5,
                                   atol=1e-6, equal_nan=True, err_msg=col)


def test_ray_equals_local(cluster, data):
    local = _run(PlantedModel(), data)
    sharded = _run(PlantedModel(), data, engine="ray",
                   engine_args={"workers": 2, "shard_records": 32})
    _same(sharded, local)
    m = sharded.meta
    assert m["engine"] == "ray" and m["shards"] == "8 of 8" and m["redone"] == []
    assert m["records"] == local.meta["records"] and m["symbols"] == local.meta["symbols"]
    # histogram edges come from the driver's calibration: every round runs two shards
    assert m["rounds"] == 4
    top = sharded.top(1)
    r = top[(top.inspector == "correlation") & (top.hypothesis == "scale.digit")]
    assert r.unit_name.item() == "planted:features[3]"


def test_ray_runs_long_records_in_windows(cluster, data):
    """Records longer than the window run in pieces in the workers too, carrying charlm's
    state: the local engine's scores."""
    import datasets
    from hyplib_zoo.charlm import TINY, load

    model = load(TINY, name="charlm-tiny", progress=False)
    long = datasets.Dataset.from_dict({"text": [t * 20 for t in data["text"][:24]]})
    kw = dict(layers=["lstm.1"], window=300, batch_size=4, device="cpu", progress=False)
    local = inspect(model, long, [digit, char_kind], **kw)
    sharded = inspect(model, long, [digit, char_kind], engine="ray",
                      engine_args={"workers": 2, "shard_records": 8}, **kw)
    a, b = sharded.table, local.table
    assert (a.unit_name == b.unit_name).all() and (a.n == b.n).all() and len(a) > 0
    np.testing.assert_allclose(a.score, b.score, rtol=0, atol=1e-7)  # merged moments' rounding
    assert sharded.meta["windows"]["records"] == local.meta["windows"]["records"] > 10


def _victim(data, lo: int, hi: int) -> str:
    """The text of a record read between positions ``lo`` and ``hi`` of the pass (seed 0) that
    the driver's calibration sample does not hold (the driver must not meet it)."""
    calibration = set(np.random.default_rng(CALIBRATION_SEED).permutation(len(data))[:120])
    pick = [r for r in np.random.default_rng(0).permutation(len(data))[lo:hi]
            if r not in calibration]
    return data[int(pick[0])]["text"]


def test_killed_worker_is_replaced_and_its_shard_counted_once(cluster, data, tmp_path):
    victim = _victim(data, 96, 128)
    local = _run(PlantedModel(), data)
    sharded = _run(FailsOnce(victim, str(tmp_path / "died"), exit=True), data, engine="ray",
                   engine_args={"workers": 2, "shard_records": 32})
    assert (tmp_path / "died").exists()
    assert len(sharded.meta["redone"]) == 1 and "worker died" in sharded.meta["redone"][0]
    assert sharded.meta["records"] == len(data)
    _same(sharded, local)


def test_interrupted_run_resumes_from_its_finished_shards(cluster, data, tmp_path):
    victim = _victim(data, 192, 224)
    model = FailsOnce(victim, str(tmp_path / "failed"), exit=False)
    args = {"workers": 2, "shard_records": 32, "checkpoint": tmp_path / "pass.pt"}
    with pytest.raises(RuntimeError, match="interrupted"):
        _run(model, data, engine="ray", engine_args=args)
    resumed = _run(model, data, engine="ray", engine_args=args)
    done = int(resumed.meta["resumed"].split()[0])
    assert 4 <= done <= 6  # record 200 is in shard 6: the rounds before it were saved
    assert len(resumed.meta["shard_seconds"]) == 8 - done  # only the rest ran
    _same(resumed, _run(PlantedModel(), data))


def test_checkpoint_key_follows_inputs(data):
    from hyplib.engine import Pass
    from hyplib.scale.checkpoint import run_key
    from hyplib.scale.engine import _shards

    def key(model=PlantedModel(), args=ARGS, seed=0, records=32):
        run = Pass.prepare(model, data, HYPS, INSPECTORS, None, inspector_args=args,
                           batch_size=16, device="cpu", pool="first", precision="float32",
                           behaviour_cache=False, progress=False, catalog=None,
                           pixel_budget=1 << 20)
        order = np.random.default_rng(seed).permutation(len(data))
        return run_key(run, data, _shards(order, 16, 2, records), seed)

    base = key()
    assert key() == base
    assert len({base, key(PlantedModel(noise=0.4)), key(args={**ARGS, "auc": {"bins": 32}}),
                key(seed=1), key(records=48), key(model=PlantedModel(name="other"))}) == 6


def test_cli_engine_ray_on_the_running_cluster(cluster, tmp_path, monkeypatch):
    """``hyplib inspect --engine ray --address auto`` joins the tests' cluster and saves the
    table the local engine gives."""
    monkeypatch.setenv("HYPLIB_PLUGINS", "text,grammar,zoo")
    out = tmp_path / "ray.csv"
    run = subprocess.run([sys.executable, "-m", "hyplib.cli", "inspect", "--model",
                          "charlm-tiny", "--data", "python-stdlib", "--hypotheses",
                          "grammar.python.in_*", "--max-records", "40", "--batch-size", "8",
                          "--out", str(out), "--quiet", "--engine", "ray", "--workers", "2",
                          "--address", "auto"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "40 of 1267 records (sample limit)" in run.stdout
    assert "2 Ray workers, 5 of 5 shards (0 redone)" in run.stdout
    cat = hyplib.load_catalog()
    local = inspect(cat.get("models", "charlm-tiny").build(progress=False),
                    cat.get("datasets", "python-stdlib").load(),
                    cat.select("hypotheses", ["grammar.python.in_*"]), max_records=40,
                    batch_size=8, progress=False)
    saved = pd.read_csv(out).drop(columns="label")  # binary hypotheses: no class labels
    pd.testing.assert_frame_equal(saved, local.table.drop(columns="label"), rtol=1e-5,
                                  atol=1e-6, check_dtype=False)


def test_bad_engine_arguments_name_the_fix(data):
    with pytest.raises(hyplib.HyplibError, match=r"engine must be 'local' or 'ray', not 'spark'"):
        _run(PlantedModel(), data, engine="spark")
    with pytest.raises(hyplib.HyplibError, match=r"\['worker'\] not known to the Ray engine: "
                       r"it takes \['workers', 'address', 'shard_records', 'checkpoint'\]"):
        _run(PlantedModel(), data, engine="ray", engine_args={"worker": 2})
    with pytest.raises(hyplib.HyplibError, match="behaviour cache is written by the local"):
        _run(PlantedModel(), data, engine="ray", behaviour_cache=True)


def test_driver_stops_between_rounds_once_scores_are_known(cluster, data):
    """With a tolerance the driver reads rounds until every score's interval is that narrow,
    and reports it as the local engine does."""
    sharded = inspect(PlantedModel(), data, HYPS, ["correlation"], batch_size=16, device="cpu",
                      progress=False, tolerance=0.2, engine="ray",
                      engine_args={"workers": 2, "shard_records": 32})
    m = sharded.meta
    assert m["stopped"] == "converged: tolerance 0.2" and m["records"] < len(data)
    assert m["records"] == 32 * len(m["shard_seconds"])
    table = sharded.table
    assert ((table["ci_high"] - table["ci_low"]) / 2 <= 0.2).all()
    assert (table["n"] == m["symbols"]["char"]).all()
