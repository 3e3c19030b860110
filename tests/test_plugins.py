"""Plug-in discovery: real distributions installed with pip, found through their entry points."""
import os
import subprocess
import sys

import pytest

from hyplib.errors import HyplibError
from hyplib.plugins import load_catalog
from hyplib.testing import install_packs

PACKS = {
    "goodpack": '''
        import hyplib

        @hyplib.hypothesis("good.vowel")
        def vowel(text):
            return [c in "aeiou" for c in text]

        @hyplib.hookimpl
        def hyplib_hypotheses():
            return [vowel]
    ''',
    "brokenpack": '''
        import no_such_module_anywhere
    ''',
    "clashpack": '''
        import hyplib

        @hyplib.hypothesis("good.vowel")
        def vowel(text):
            return [c in "AEIOU" for c in text]

        @hyplib.hookimpl
        def hyplib_hypotheses():
            return [vowel]

        @hyplib.hookimpl
        def hyplib_inspectors():
            raise RuntimeError("inspectors exploded")
    ''',
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Build and pip-install the three throwaway packs into one target folder."""
    return install_packs(tmp_path_factory.mktemp("packs"), {
        name: (name.removesuffix("pack"), code) for name, code in PACKS.items()})


def _hyplib(site, *args, plugins=None):
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("HYPLIB_PLUGINS", None)
    if plugins is not None:
        env["HYPLIB_PLUGINS"] = plugins
    return subprocess.run([sys.executable, "-m", "hyplib.cli", *args], env=env,
                          capture_output=True, text=True)


def test_packs_found_and_broken_one_isolated(site):
    out = _hyplib(site, "list", "packs")
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines()[1:]}
    assert lines["good"].endswith("ok")
    assert "BROKEN: ModuleNotFoundError: No module named 'no_such_module_anywhere'" in lines["broken"]
    assert "BROKEN: hyplib_inspectors() failed: RuntimeError: inspectors exploded" in lines["clash"]
    assert lines["text"].endswith("ok")  # the real packs keep working


def test_name_clash_names_both_packs(site):
    out = _hyplib(site, "inspect", "--model", "charlm-tiny", "--data", "python-stdlib",
                  "--hypotheses", "good.vowel", "--quiet")
    assert out.returncode == 2
    assert "hypothesis 'good.vowel' is provided by several packs (clash, good)" in out.stderr


def test_env_var_restricts_packs(site):
    out = _hyplib(site, "list", "packs", plugins="good,text")
    names = [line.split()[0] for line in out.stdout.splitlines()[1:]]
    assert names == ["hyplib", "good", "text"]
    out = _hyplib(site, "list", "hypotheses", plugins="good")
    assert "good.vowel" in out.stdout and "[good]" in out.stdout
    assert _hyplib(site, "list", "packs", plugins="").stdout.split()[1:2] == ["hyplib"]


def test_catalog_lookup_errors():
    cat = load_catalog()
    with pytest.raises(HyplibError, match=r"unknown model 'charlm-tinny': did you mean 'charlm-tiny'"):
        cat.get("models", "charlm-tinny")
    assert cat.get("models", "charlm").name == "charlm"


def test_control_tasks_by_name():
    cat = load_catalog()
    ctrl = cat.get("hypotheses", "control:text.char_class")
    base = cat.get("hypotheses", "text.char_class")
    assert (ctrl.name, ctrl.kind, ctrl.classes) == ("control:text.char_class", base.kind, base.classes)
    picked = [h.name for h in cat.select("hypotheses", ["text.is_d*", "control:text.is_d*"])]
    assert picked == ["control:text.is_digit", "text.is_digit"]
    with pytest.raises(HyplibError, match="unknown hypothesis 'text.nope'"):
        cat.get("hypotheses", "control:text.nope")
