"""Caches keyed by content: a hypothesis' definition and provider, a data file's bytes."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import hyplib
from hyplib.annotation import annotate
from hyplib.data import load_path
from hyplib.fingerprint import hypothesis_key
from hyplib.testing import install_packs

from .conftest import hyplib_cli


def _vowels(text):
    return [c in "aeiou" for c in text]


def _digits(text):
    return [c.isdigit() for c in text]


def test_same_name_and_version_different_code_is_recomputed(cache, texts):
    first = hyplib.hypothesis("fault.same")(_vowels)
    second = hyplib.hypothesis("fault.same")(_digits)
    assert hypothesis_key(first)["definition"] != hypothesis_key(second)["definition"]
    a = annotate(texts, [first], progress=False)["fault.same"].values
    b = annotate(texts, [second], progress=False)["fault.same"].values
    want = np.array([c.isdigit() for t in texts["text"] for c in t], dtype=np.uint8)
    np.testing.assert_array_equal(b, want)  # not the cached vowels
    assert not np.array_equal(a, b)


def test_closure_values_are_part_of_the_definition():
    def make(chars):
        return hyplib.hypothesis("fault.chars")(lambda text: [c in chars for c in text])

    assert hypothesis_key(make("ab"))["definition"] != hypothesis_key(make("xy"))["definition"]
    assert hypothesis_key(make("ab"))["definition"] == hypothesis_key(make("ab"))["definition"]


def test_control_task_key_follows_its_base():
    from hyplib.control import control_task

    a = control_task(hyplib.hypothesis("fault.base")(_vowels))
    b = control_task(hyplib.hypothesis("fault.base")(_digits))
    assert hypothesis_key(a)["definition"] != hypothesis_key(b)["definition"]


def test_key_names_the_providing_distribution():
    from hyplib.plugins import load_catalog

    key = hypothesis_key(load_catalog().get("hypotheses", "text.is_space"))
    assert key["distribution"].startswith("hyplib-text ")  # with its version


def test_edited_file_with_kept_timestamps_is_read_afresh(cache, tmp_path):
    path = tmp_path / "recs.jsonl"
    path.write_text("\n".join(json.dumps({"text": t}) for t in ["abc", "def"]) + "\n")
    stamp = path.stat().st_mtime_ns
    first = load_path(path)
    path.write_text("\n".join(json.dumps({"text": t}) for t in ["xyz", "uvw"]) + "\n")
    os.utime(path, ns=(stamp, stamp))  # as cp -p, rsync -a and tar keep them
    second = load_path(path)
    assert second["text"] == ["xyz", "uvw"]
    assert first._fingerprint != second._fingerprint
    assert load_path(path)._fingerprint == second._fingerprint  # stable for equal content


SHADOW = '''
    import hyplib

    @hyplib.hypothesis("text.is_space", version="1")
    def is_space(text):
        return [not c.isspace() for c in text]  # the opposite of the real one

    @hyplib.hookimpl
    def hyplib_hypotheses():
        return [is_space]
'''


@pytest.fixture(scope="module")
def shadow_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("shadow")
    return install_packs(root, {"shadowpack": ("shadow", SHADOW)})


def _labels(site, plugins, cache):
    code = ("import datasets, hyplib;"
            "from hyplib.annotation import annotate;"
            "from hyplib.plugins import catalog;"
            "d = datasets.Dataset.from_dict({'text': ['a b  c', 'de f']});"
            "h = catalog().get('hypotheses', 'text.is_space');"
            "print(annotate(d, [h], progress=False)['text.is_space'].values.tolist())")
    env = {**os.environ, "PYTHONPATH": str(site), "HYPLIB_PLUGINS": plugins,
           "HYPLIB_CACHE": str(cache)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_a_shadowing_pack_never_gets_its_labels_served_for_the_real_one(shadow_site, cache):
    fake = _labels(shadow_site, "shadow", cache)
    real = _labels(shadow_site, "text,zoo", cache)  # the real pack, after the shadow's run
    assert real == [0, 1, 0, 1, 1, 0, 0, 0, 1, 0]
    assert fake == [1 - v for v in real]


def test_an_entry_point_name_declared_twice_breaks_both_naming_both(tmp_path):
    site = install_packs(tmp_path, {"textclash": ("text", "import hyplib\n")})
    out = hyplib_cli("list", "packs", site=site)
    assert out.returncode == 0, out.stderr
    text = [line for line in out.stdout.splitlines() if line.split()[:1] == ["text"]]
    assert len(text) == 2
    for line in text:
        assert "BROKEN: the entry-point name 'text' is declared by" in line
        assert "hyplib-text" in line and "textclash 0.0.1" in line


def test_closed_over_tables_and_arrays_are_part_of_the_definition():
    def make(table, weights):
        return hyplib.hypothesis("fault.table")(
            lambda text: [table.get(c, 0) * weights[0] > 0 for c in text])

    key = hypothesis_key(make({"a": 1}, np.ones(2)))["definition"]
    assert key == hypothesis_key(make({"a": 1}, np.ones(2)))["definition"]
    assert key != hypothesis_key(make({"a": 1, "b": 1}, np.ones(2)))["definition"]
    assert key != hypothesis_key(make({"a": 1}, -np.ones(2)))["definition"]
