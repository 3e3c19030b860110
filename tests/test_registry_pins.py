"""A registry that runs no stranger's code: what `validate` refuses, installs whose every artefact
is hash-checked against an index, `update --url`, `uninstall`."""
import json

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement

from hyplib import registry as R
from hyplib.cli import main
from hyplib.errors import HyplibError
from hyplib.registry.index import files_of, sha256, write
from hyplib.registry.install import Index, pinned_line, source

SHA = "ab" * 32
OMIT = object()


def _entry(name="demo", **fields):
    entry = {"name": name, "kind": "hypotheses", "summary": f"the {name} pack", "version": "0.1.0",
             "distribution": name, "requirement": f"{name}>=0.1,<0.2",
             "files": [{"filename": f"{name}-0.1.0-py3-none-any.whl", "sha256": SHA}],
             "entry_point": f"{name} = {name}", "hyplib": ">=0.2", "license": {"code": "MIT",
                                                                                 "data": None},
             "homepage": None, "maintainers": ["someone"], "artefacts": [],
             "status": {"verified": "2025-01-01"},
             "provides": {"hypotheses": [{"name": f"{name}.x", "kind": "binary", "level": "char"}]}}
    entry.update(fields)
    return {k: v for k, v in entry.items() if v is not OMIT}


def _write(path, *entries):
    path.write_text(json.dumps({"schema_version": 1, "packs": list(entries)}))
    return path


def _problems(**fields):
    return R.validate({"schema_version": 1, "packs": [_entry(**fields)]})


URL = "https://example.org/demo-0.1.0-py3-none-any.whl"


@pytest.mark.parametrize("fields, problem", [
    ({"requirement": "../../x", "files": OMIT}, "$.packs[0].requirement"),
    ({"requirement": "hypotheses/../../x", "files": OMIT}, "$.packs[0].requirement"),
    ({"requirement": "/etc/evil", "files": OMIT}, "$.packs[0].requirement"),
    ({"requirement": "./../x", "files": OMIT}, "$.packs[0].requirement"),
    ({"requirement": "--index-url=https://evil.example/simple"}, "$.packs[0].requirement"),
    ({"requirement": "-e ."}, "$.packs[0].requirement"),
    ({"requirement": "-r /etc/passwd"}, "$.packs[0].requirement"),
    ({"requirement": "demo>=0.1 --index-url=https://evil.example"}, "$.packs[0].requirement"),
    ({"requirement": "demo; os_name == 'posix'"}, "$.packs[0].requirement"),
    ({"requirement": URL, "files": OMIT}, "$.packs[0]: 'sha256' is a required property"),
    ({"requirement": f"demo @ {URL}", "files": OMIT},
     "$.packs[0]: 'sha256' is a required property"),
    ({"requirement": URL.replace("https", "http"), "files": OMIT, "sha256": SHA},
     "$.packs[0].requirement"),
    ({"requirement": f"other @ {URL}", "files": OMIT, "sha256": SHA},
     "$.packs[0].requirement: 'other @ https://example.org/demo-0.1.0-py3-none-any.whl' does "
     "not name the entry's distribution 'demo'"),
    ({"files": OMIT}, "$.packs[0]: 'files' is a required property"),
    ({"files": []}, "$.packs[0].files: [] should be non-empty"),
    ({"requirement": "inspectors"}, "$.packs[0].requirement: 'inspectors' is not the entry's "
                                    "distribution 'demo'"),
    ({"requirement": "demo>=0.2"},
     "$.packs[0].requirement: 'demo>=0.2' excludes the entry's version 0.1.0"),
    ({"files": [{"filename": "evil-0.1.0-py3-none-any.whl", "sha256": SHA}]},
     "$.packs[0].files[0].filename: 'evil-0.1.0-py3-none-any.whl' is not demo 0.1.0"),
    ({"files": [{"filename": "demo-0.1.0.tar.gz", "sha256": "abc"}]},
     "$.packs[0].files[0].sha256: 'abc' does not match"),
    ({"distribution": "-demo"}, "$.packs[0].distribution"),
    ({"version": "--pre"}, "$.packs[0].version"),
    ({"sha256": SHA}, "$.packs[0].sha256: only a wheel/sdist URL requirement can carry a sha256"),
    ({"requirement": "hypotheses/demo"}, "$.packs[0].files: only a PEP 508 requirement can carry"),
    ({"requirement": URL + "\n", "files": OMIT, "sha256": SHA},
     "$.packs[0].requirement: 'https://example.org/demo-0.1.0-py3-none-any.whl\\n' holds a "
     "control character"),
    ({"version": "0.1.0\n"}, "$.packs[0].version: '0.1.0\\n' holds a control character"),
    ({"distribution": "demo\n"}, "$.packs[0].distribution: 'demo\\n' holds a control"),
    ({"files": [{"filename": "demo-0.1.0.tar.gz", "sha256": SHA + "\n"}]},
     "$.packs[0].files[0].sha256"),
])
def test_validate_rejects_what_could_run_a_strangers_code(tmp_path, fields, problem, capsys):
    problems = _problems(**fields)
    assert problems and problems[0].startswith(problem), problems
    bad = _write(tmp_path / "registry.json", _entry(**fields))
    assert main(["registry", "validate", str(bad)]) == 1
    assert problem in capsys.readouterr().err


@pytest.mark.parametrize("fields", [
    {},
    {"requirement": "demo==0.1.0"},
    {"requirement": "hypotheses/demo", "files": OMIT},
    {"requirement": "./demo", "files": OMIT},
    {"requirement": URL, "files": OMIT, "sha256": SHA},
    {"requirement": f"demo @ {URL}", "files": OMIT, "sha256": SHA},
    {"requirement": "file:///srv/wheels/demo-0.1.0-py3-none-any.whl", "files": OMIT,
     "sha256": SHA},
])
def test_validate_accepts_names_pinned_urls_and_tree_paths(fields):
    assert _problems(**fields) == []


@pytest.mark.parametrize("index", [Index(index_url="--trusted-host=evil"),
                                   Index(find_links=("-e.",)), Index(index_url="a b")])
def test_no_option_reaches_pip_through_an_index(index):
    with pytest.raises(HyplibError, match="give a URL or a folder, not an option"):
        index.args()


def test_tree_path_may_not_leave_the_registrys_tree(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "repo" / "hypotheses").mkdir(parents=True)
    (tmp_path / "repo" / "hypotheses" / "demo").symlink_to(outside)
    registry = R.load(_write(tmp_path / "repo" / "registry.json",
                             _entry(requirement="hypotheses/demo", files=OMIT)))
    with pytest.raises(HyplibError, match="leads outside the registry's tree"):
        R.install(registry, "demo", target=tmp_path / "site")


# ---- installs against a local index ---------------------------------------------------------

@pytest.fixture(scope="module")
def index(tmp_path_factory, pack_wheel):
    """A local index of two packs: `regapp` 0.1.0, which needs `regdep` 0.1.0."""
    root = tmp_path_factory.mktemp("index")
    pack_wheel(root, "regdep", "0.1.0")
    pack_wheel(root, "regapp", "0.1.0", deps=["regdep>=0.1"])
    write(root / "dist")
    return root / "dist"


def _pinned(dist, name):
    return _entry(name, distribution=name, version="0.1.0", entry_point=f"{name} = {name}",
                  files=files_of(dist, name, "0.1.0"))


def _registry(tmp_path, dist, *entries):
    return R.load(_write(tmp_path / "registry.json", *entries or
                         (_pinned(dist, "regapp"), _pinned(dist, "regdep"))))


@pytest.mark.parametrize("where", ["find_links", "index_url"])
def test_install_fetches_each_pack_hash_checked_from_an_index(tmp_path, index, where):
    registry = _registry(tmp_path, index)
    place = ({"find_links": (str(index),)} if where == "find_links"
             else {"index_url": (index / "simple").as_uri()})
    site = tmp_path / "site"
    assert R.install(registry, "regapp", target=site, index=Index(**place)) == []
    assert (site / "regapp" / "__init__.py").exists() and (site / "regdep" / "__init__.py").exists()


def test_install_refuses_a_tampered_index_and_installs_nothing(tmp_path, index, pack_wheel):
    evil = tmp_path / "evil"
    pack_wheel(tmp_path, "regdep", "0.1.0", marker="tampered")
    (tmp_path / "dist").rename(evil)
    for f in index.iterdir():
        if f.is_file() and not f.name.startswith("regdep"):
            (evil / f.name).write_bytes(f.read_bytes())
    registry = _registry(tmp_path, index)
    site = tmp_path / "site"
    with pytest.raises(HyplibError, match="the regdep 0.1.0 that .*evil serves does not match the "
                                          "registry's sha256; nothing was installed"):
        R.install(registry, "regapp", target=site, index=Index(find_links=(str(evil),)))
    assert not site.exists()


def test_install_names_the_missing_index(tmp_path, index):
    registry = _registry(tmp_path, index)
    with pytest.raises(HyplibError, match="pip found no regapp 0.1.0 at .*nowhere; give the index "
                                          "that publishes it: --index-url URL or --find-links"):
        R.install(registry, "regapp", target=tmp_path / "site",
                  index=Index(find_links=(str(tmp_path / "nowhere"),)))


def test_require_hashes_needs_every_dependency_pinned(tmp_path, index):
    registry = _registry(tmp_path, index, _pinned(index, "regapp"))  # regdep: not in the registry
    site = tmp_path / "site"
    links = Index(find_links=(str(index),))
    with pytest.raises(HyplibError, match=r"--require-hashes: no hash for regdep>=0\.1; pin every "
                                          "dependency"):
        R.install(registry, "regapp", target=site, index=links, require_hashes=True)
    assert not site.exists()
    lock = tmp_path / "lock.txt"
    dep = next(index.glob("regdep-*.whl"))
    lock.write_text(f"regdep==0.1.0 --hash=sha256:{'0' * 64}\n")
    with pytest.raises(HyplibError, match="DO NOT MATCH"):
        R.install(registry, "regapp", target=site, index=links, lock=lock, require_hashes=True)
    lock.write_text(f"regdep==0.1.0 --hash=sha256:{sha256(dep)}\n")
    R.install(registry, "regapp", target=site, index=links, lock=lock, require_hashes=True)
    assert (site / "regdep" / "__init__.py").exists()


def test_uninstall_of_a_pack_not_installed(tmp_path, index):
    registry = _registry(tmp_path, index)
    with pytest.raises(HyplibError, match=r"pack 'regapp' \(regapp\) is not installed"):
        R.uninstall(registry, "regapp")


# ---- update --url ---------------------------------------------------------------------------

def test_update_url_checks_and_stores_a_registry_that_then_takes_precedence(tmp_path, monkeypatch,
                                                                          capsys):
    monkeypatch.delenv(R.ENV_VAR, raising=False)
    monkeypatch.setenv("HYPLIB_CACHE", str(tmp_path / "cache"))
    shipped = {e["name"] for e in R.load().packs}
    assert R.locate() == R.DEFAULT
    good = _write(tmp_path / "good.json", _entry("pos", distribution="pos",
                                                 entry_point="pos = hyplib_pos"),
                  _entry("demo"))
    assert main(["registry", "update", "--url", good.as_uri()]) == 0
    out = capsys.readouterr().out
    assert "pos: 0.2.0 -> 0.1.0" in out and "demo: new, 0.1.0" in out
    assert "text: no longer in the registry" in out and "takes precedence" in out
    assert R.locate() == R.cached() == tmp_path / "cache" / "registry" / "registry.json"
    assert {e["name"] for e in R.load().packs} == {"pos", "demo"} != shipped


@pytest.mark.parametrize("doc, problem", [
    ({"schema_version": 1, "packs": [_entry(requirement="hypotheses/demo", files=OMIT)]},
     "$.packs[0].requirement: 'hypotheses/demo' is a folder of the registry's tree, which a "
     "downloaded registry does not have"),
    ({"schema_version": 1, "packs": [_entry(requirement="../../x", files=OMIT)]},
     "$.packs[0].requirement"),
    ("{", "$: not JSON"),
])
def test_update_url_stores_nothing_invalid(tmp_path, monkeypatch, doc, problem):
    monkeypatch.setenv("HYPLIB_CACHE", str(tmp_path / "cache"))
    bad = tmp_path / "bad.json"
    bad.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    with pytest.raises(R.RegistryError) as info:
        R.fetch(bad.as_uri())
    assert info.value.problems[0].startswith(problem)
    assert not R.cached().exists()


def test_update_url_refuses_plain_http_and_a_wrong_sha256(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPLIB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(HyplibError, match="give an https:// or file:// URL"):
        R.fetch("http://example.org/registry.json")
    good = _write(tmp_path / "good.json", _entry())
    with pytest.raises(HyplibError, match=f"has sha256 {sha256(good)}, not {SHA}; nothing stored"):
        R.fetch(good.as_uri(), SHA)
    assert not R.cached().exists()
    assert R.fetch(good.as_uri(), sha256(good))[0] == R.cached()


# ---- property: whatever validates pins the entry's own distribution -------------------------

PREFIXES = ["demo", "demo>=", "Demo_", "other", "hypotheses/", "./", "/", "../", "-",
            "--index-url=", "https://example.org/", "http://example.org/", "file:///",
            "demo @ https://x/", "other @ file:///", "demo; "]


TAILS = ["", ">=0.1,<0.2", "==0.1.0", "~=0.1", ">=0.2", "demo", "demo/x", "../x", "x.whl",
         "demo-0.1.0-py3-none-any.whl", " --hash=sha256:0", "[extra]"]


@settings(max_examples=600, deadline=None)
@example("demo", ">=0.1,<0.2", True, False)
@example("hypotheses/", "demo", False, False)
@example("demo @ https://x/", "demo-0.1.0-py3-none-any.whl", False, True)
@given(st.sampled_from(PREFIXES),
       st.one_of(st.sampled_from(TAILS), st.text("demo0.1-_/@:;=<>!~, \\#%*+\n", max_size=24)),
       st.booleans(), st.booleans())
def test_whatever_validates_reaches_pip_only_as_the_entrys_own_distribution(prefix, rest, files,
                                                                            pinned):
    requirement = prefix + rest
    entry = _entry(requirement=requirement, sha256=SHA if pinned else OMIT)
    if not files:
        entry.pop("files")
    if R.validate({"schema_version": 1, "packs": [entry]}):
        event("rejected")
        return
    event(f"accepted {source(requirement)}")
    assert not requirement.startswith("-") and not any(c.isspace() and c != " "
                                                       for c in requirement)
    kind = source(requirement)
    if kind == "path":
        parts = requirement.split("/")
        assert not requirement.startswith("/") and ".." not in parts and "." not in parts[1:]
        assert "files" not in entry and "sha256" not in entry
        return
    line = pinned_line(entry)
    assert line.split()[0] in ("demo==0.1.0", "demo") and " --hash=sha256:" + SHA in line
    if kind == "pypi":
        req = Requirement(requirement)
        assert req.name == "demo" and req.url is None and req.marker is None and not req.extras
    else:
        assert requirement.split(" @ ")[-1].startswith(("https://", "file://")) and pinned
