"""Static discovery: packs are described by their manifests and imported on first use."""
import subprocess
import sys
import types

import pytest

from hyplib import HyplibError, UnknownNameError, manifest
from hyplib.plugins import Declared, load_catalog


@pytest.fixture(scope="module")
def imported():
    return load_catalog(lazy=False)


def test_every_shipped_manifest_matches_its_pack(imported):
    """A manifest that no longer says what its pack provides would list wrong names."""
    for pack in imported.packs:
        assert pack.ok, pack.error
        shipped = manifest.read(pack.value, pack.version)
        assert shipped is not None, f"{pack.name} ships no manifest for {pack.version}"
        assert shipped == manifest.build(imported, pack.name), (
            f"{pack.name}'s manifest.json is stale: run `hyplib registry update`")


def test_lazy_catalog_lists_without_importing_and_imports_on_use():
    code = ("import sys\nfrom hyplib.plugins import load_catalog\nc = load_catalog()\n"
            "print(len(c.names('hypotheses')), 'hyplib_pos' in sys.modules)\n"
            "h = c.get('hypotheses', 'pos.upos')\n"
            "print(type(h).__name__, h.classes[:2], 'hyplib_pos' in sys.modules, "
            "'hyplib_vision' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    listed, used = out.stdout.split("\n")[:2]
    assert int(listed.split()[0]) > 50 and listed.endswith("False")
    assert used == "Hypothesis ('ADJ', 'ADP') True False"


def test_declared_items_carry_what_listing_shows():
    cat = load_catalog()
    item = dict((n, i) for n, _, i in cat.entries("hypotheses"))["pos.upos"]
    assert isinstance(item, Declared)
    assert (item.kind, item.level, len(item.classes)) == ("categorical", "word", 17)
    assert cat.get("hypotheses", "pos.upos").classes == item.classes


def test_a_stale_manifest_is_ignored(tmp_path, monkeypatch):
    """A manifest written for another version is not trusted: the pack is imported."""
    assert manifest.read("hyplib_pos", "0.0.0-not-this") is None
    assert manifest.read("no_such_package_xyz", "1") is None


def test_unknown_name_names_the_registry_pack_that_provides_it(monkeypatch):
    monkeypatch.setenv("HYPLIB_PLUGINS", "text")
    cat = load_catalog()
    with pytest.raises(UnknownNameError) as err:
        cat.get("hypotheses", "pos.upos")
    assert "the registry's pack 'pos' provides it: hyplib registry install pos" in str(err.value)
    with pytest.raises(UnknownNameError, match="hyplib registry install grammar"):
        cat.select("hypotheses", ["grammar.python.*"])
    with pytest.raises(UnknownNameError, match="did you mean 'text.is_space'"):
        cat.get("hypotheses", "text.is_spac")


def test_a_pack_broken_at_import_is_reported_on_first_use(monkeypatch):
    cat = load_catalog()
    pack = next(p for p in cat.packs if p.name == "text")
    monkeypatch.setattr(pack, "entry_point", types.SimpleNamespace(load=lambda: 1 / 0))
    with pytest.raises(HyplibError, match=r"pack 'text' \(hyplib-text 0.2.0\) is broken: "
                                          r"ZeroDivisionError"):
        cat.get("hypotheses", "text.is_space")
    assert cat.get("hypotheses", "pos.upos").name == "pos.upos"  # the others keep working
