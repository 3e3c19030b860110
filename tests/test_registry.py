"""The pack registry: the repository's registry.json, validation, verify, install, new-pack, CLI."""
import datetime
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hyplib import registry as R
from hyplib.cli import main
from hyplib.errors import HyplibError
from hyplib.plugins import catalog
from hyplib.registry.index import files_of

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = ROOT / "registry.json"


def _entry(name, hypotheses=(), **fields):
    return {"name": name, "kind": "hypotheses", "summary": f"the {name} pack", "version": "0.0.1",
            "distribution": name, "requirement": f"{name}==0.0.1",
            "files": [{"filename": f"{name}-0.0.1-py3-none-any.whl", "sha256": "ab" * 32}],
            "entry_point": f"{name} = {name}",
            "hyplib": ">=0.1", "license": {"code": "MIT", "data": None}, "homepage": None,
            "maintainers": ["someone"], "artefacts": [], "status": {"verified": "2025-01-01"},
            "provides": {"hypotheses": [{"name": h, "kind": "binary", "level": "char"}
                                        for h in hypotheses]}, **fields}


def _write(path, *entries):
    path.write_text(json.dumps({"schema_version": 1, "packs": list(entries)}))
    return path


def _cli(*args, site=None, **env):
    env = {**os.environ, **env}
    if site:
        env["PYTHONPATH"] = str(site)
    return subprocess.run([sys.executable, "-m", "hyplib.cli", *args], env=env,
                          capture_output=True, text=True)


def _pip_target(source, site):
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--target", str(site), str(source)],
                   check=True, capture_output=True)


def test_repository_registry_validates_and_matches_the_packs():
    registry = R.load(REGISTRY)
    assert R.clashes(registry.packs) == []
    by_dist = {e["distribution"]: e for e in registry.packs}
    report = R.verify(registry, catalog())
    for rel, project in R.repo_packs(ROOT):
        assert project["name"] in by_dist, (f"no entry for {rel}: pip install -e {rel}; "
                                            "hyplib registry update")
        entry = by_dist[project["name"]]
        assert (entry["distribution"], entry["version"]) == (project["name"], project["version"])
        assert entry["name"] not in report.not_installed, f"pip install -e {rel}"
        assert report.problems[entry["name"]] == [], "run `hyplib registry update`"


def test_schema_matches_the_core_types():
    from hyplib.plugins import HOOKS
    from hyplib.types import KINDS, LEVELS

    defs = json.loads(R.SCHEMA.read_text())["$defs"]
    assert tuple(defs["hypothesis"]["properties"]["kind"]["enum"]) == KINDS
    assert tuple(defs["hypothesis"]["properties"]["level"]["enum"]) == LEVELS
    assert defs["packKind"]["enum"] == list(HOOKS)


CATEGORICAL = {"name": "demo.c", "kind": "categorical", "level": "word"}


@pytest.mark.parametrize("edit, problem", [
    (lambda e: e["provides"]["hypotheses"][0].update(kind="binry"),
     "$.packs[1].provides.hypotheses[0].kind: 'binry' is not one of "
     "['binary', 'categorical', 'continuous']"),
    (lambda e: e.pop("summary"), "$.packs[1]: 'summary' is a required property"),
    (lambda e: e.update(kind="hypothesis"), "$.packs[1].kind: 'hypothesis' is not one of"),
    (lambda e: e["provides"]["hypotheses"].append(CATEGORICAL),
     "$.packs[1].provides.hypotheses[1]: 'classes' is a required property"),
    (lambda e: e.update(status={"verified": "yesterday"}),
     "$.packs[1].status.verified: 'yesterday' is not a 'date'"),
    (lambda e: e.update(hyplib="=>0.1"),
     "$.packs[1].hyplib: '=>0.1' is not a valid PEP 440 specifier"),
    (lambda e: e.update(sha256="ab" * 32),
     "$.packs[1].sha256: only a wheel/sdist URL requirement can carry a sha256"),
    (lambda e: e.update(name="good"), "$.packs[1].name: 'good' is also $.packs[0]"),
])
def test_malformed_registry_names_json_path_and_reason(tmp_path, edit, problem):
    bad = _entry("demo", ["demo.x"])
    edit(bad)
    path = _write(tmp_path / "registry.json", _entry("good", ["good.x"]), bad)
    with pytest.raises(R.RegistryError) as info:
        R.load(path)
    assert len(info.value.problems) == 1 and info.value.problems[0].startswith(problem)


def test_validate_command(tmp_path, capsys):
    bad = _write(tmp_path / "bad.json", _entry("demo", version="one"))
    assert main(["registry", "validate", str(bad)]) == 1
    assert "$.packs[0].version: 'one' is not a valid PEP 440 version" in capsys.readouterr().err
    assert main(["registry", "validate", "--registry", str(REGISTRY)]) == 0
    assert capsys.readouterr().out.endswith(" packs, valid\n")


def test_not_json_and_missing_file(tmp_path):
    (tmp_path / "r.json").write_text("{")
    with pytest.raises(R.RegistryError, match=r"\$: not JSON: Expecting property name"):
        R.load(tmp_path / "r.json")
    with pytest.raises(HyplibError, match="no registry file at .*nothing.json; give --registry"):
        R.load(tmp_path / "nothing.json")


def test_name_clash_names_both_packs(tmp_path, capsys, monkeypatch):
    path = _write(tmp_path / "registry.json", _entry("alpha", ["shared.x", "alpha.y"]),
                  _entry("beta", ["shared.x"]))
    clash = "hypothesis 'shared.x' is provided by several packs: alpha, beta"
    assert R.clashes(R.load(path).packs) == [clash]
    assert main(["registry", "validate", str(path)]) == 1
    assert clash in capsys.readouterr().err
    monkeypatch.setenv(R.ENV_VAR, str(path))
    assert main(["registry", "search", "shared"]) == 0
    out, err = capsys.readouterr()
    assert [line.split()[0] for line in out.splitlines()] == [
        "alpha", "provides:", "beta", "provides:"]
    assert clash in err
    assert main(["registry", "show", "beta"]) == 0
    assert f"clash: {clash}" in capsys.readouterr().out


def cat_version(cat, name):
    return next(p.version for p in cat.packs if p.name == name)


def test_verify_reports_what_differs_from_the_entry():
    cat = catalog()
    real = R.provides_of(cat, "text")
    hyps = {h["name"]: h for h in real["hypotheses"]}
    del hyps["text.is_digit"]
    hyps["text.nope"] = {"name": "text.nope", "kind": "binary", "level": "char"}
    hyps["text.is_letter"] = {**hyps["text.is_letter"], "level": "word"}
    classes = hyps["text.char_class"]["classes"]
    hyps["text.char_class"] = {**hyps["text.char_class"], "classes": ["a", "b"]}
    text = _entry("text", distribution="hyplib-text", version=cat_version(cat, "text"),
                  entry_point="text = hyplib_text", provides={"hypotheses": list(hyps.values())})
    ghost = _entry("ghost", distribution="hyplib-text", version=text["version"],
                   entry_point="ghost = hyplib_ghost")
    moved = _entry("grammar", distribution="hyplib-grammar", version=text["version"],
                   entry_point="grammar = hyplib_grammar.nowhere")
    report = R.verify(R.Registry(Path("r.json"), [text, ghost, moved, _entry("absent")]), cat)
    assert sorted(report.problems["text"]) == sorted([
        "missing hypothesis 'text.nope': in the registry, not provided",
        "extra hypothesis 'text.is_digit': provided, not in the registry",
        "hypothesis 'text.is_letter': level 'word' in the registry, 'char' provided",
        "hypothesis 'text.char_class': classes ['a', 'b'] in the registry, "
        f"{classes!r} provided",
    ])
    assert report.problems["ghost"] == [
        f"entry point 'ghost = hyplib_ghost' does not exist: hyplib-text {text['version']} "
        "declares hyplib entry points: text = hyplib_text"]
    assert report.problems["grammar"][0] == (
        "entry point is grammar = hyplib_grammar installed, hyplib_grammar.nowhere in the registry")
    assert report.not_installed == ["absent"] and not report.ok
    assert "zoo" in report.unregistered


def test_update_regenerates_provides_of_the_repository_packs(tmp_path):
    for part in ("hypotheses", "zoo"):
        (tmp_path / part).symlink_to(ROOT / part)
    stale = json.loads(REGISTRY.read_text())
    text = next(e for e in stale["packs"] if e["name"] == "text")
    text["provides"]["hypotheses"].pop()
    text.update(status={"verified": "2000-01-01"}, summary="kept as written")
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(stale))
    today = datetime.date(2031, 2, 3)
    notes = R.update(path, catalog(), today=today)
    assert "text: updated" in notes and "grammar: unchanged" in notes
    fresh = {e["name"]: e for e in R.load(path).packs}
    assert fresh["text"]["provides"] == R.provides_of(catalog(), "text")
    assert fresh["text"]["status"] == {"verified": "2031-02-03"}
    assert fresh["text"]["summary"] == "kept as written"
    assert fresh["grammar"]["status"] != {"verified": "2031-02-03"}
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".part"] == []


@pytest.fixture(scope="module")
def wheel(tmp_path_factory, pack_wheel):
    """A wheel of a throwaway pack `regdemo` providing one hypothesis."""
    return pack_wheel(tmp_path_factory.mktemp("regdemo"), "regdemo")


def _wheel_registry(tmp_path, wheel, sha256):
    entry = _entry("regdemo", ["regdemo.x"], requirement=wheel.as_uri(), sha256=sha256)
    del entry["files"]
    return R.load(_write(tmp_path / "registry.json", entry))


def test_install_refuses_hash_mismatch_and_installs_nothing(tmp_path, wheel):
    registry = _wheel_registry(tmp_path, wheel, "0" * 64)
    site = tmp_path / "site"
    with pytest.raises(HyplibError, match="does not match the registry's sha256; nothing was "
                                          "installed\nExpected sha256 0{64}\nGot"):
        R.install(registry, "regdemo", target=site, deps=False)
    assert not site.exists() or not any(site.iterdir())


def test_install_checks_hash_and_entry_point(tmp_path, wheel):
    registry = _wheel_registry(tmp_path, wheel, hashlib.sha256(wheel.read_bytes()).hexdigest())
    registry.packs[0]["provides"]["hypotheses"][0]["kind"] = "continuous"
    assert R.install(registry, "regdemo", target=tmp_path / "site", deps=False) == [
        "hypothesis 'regdemo.x': kind 'continuous' in the registry, 'binary' provided"]
    assert (tmp_path / "site" / "regdemo" / "__init__.py").exists()


def test_new_pack_pip_installs_and_is_listed(tmp_path, capsys, monkeypatch):
    pack = tmp_path / "vowels"
    assert main(["new-pack", "vowels", "--dir", str(pack)]) == 0
    assert main(["new-pack", "vowels", "--dir", str(pack)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    site = tmp_path / "site"
    _pip_target(pack, site)
    run = _cli("list", "hypotheses", site=site, HYPLIB_PLUGINS="vowels")
    assert run.returncode == 0 and "vowels.is_vowel" in run.stdout and "[vowels]" in run.stdout
    entry = json.loads((pack / "registry-entry.json").read_text())
    with pytest.raises(R.RegistryError, match=r"files\[0\]\.sha256: \"the published wheel's"):
        R.load(_write(tmp_path / "registry.json", entry))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "dist"), str(pack)], check=True, capture_output=True)
    entry["files"] = files_of(tmp_path / "dist", "hyplib-vowels", "0.1.0")
    assert [f["filename"] for f in entry["files"]] == ["hyplib_vowels-0.1.0-py3-none-any.whl"]
    snippet = _write(tmp_path / "registry.json", entry)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("HYPLIB_PLUGINS", "vowels")
    assert R.verify(R.load(snippet)).problems == {"vowels": []}
    spec = importlib.util.spec_from_file_location("test_vowels", pack / "tests" / "test_vowels.py")
    generated = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generated)
    generated.test_is_vowel_labels_each_character()
    generated.test_pack_is_registered(monkeypatch)


def test_list_search_show_import_no_pack():
    code = textwrap.dedent('''
        import json, sys
        from hyplib.cli import main
        for argv in (["list"], ["search", "pos"], ["show", "text"], ["show", "zoo"]):
            assert main(["registry", *argv]) == 0
        print(json.dumps(sorted(sys.modules)))
    ''')
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if k != R.ENV_VAR})
    assert run.returncode == 0, run.stderr
    *shown, modules = run.stdout.splitlines()
    packs = {e["entry_point"].split(" = ")[1].split(".")[0] for e in R.load(REGISTRY).packs}
    imported = {m.split(".")[0] for m in json.loads(modules)}
    assert not imported & packs and not {m for m in imported if m.startswith("hyplib_")}
    assert any(line.startswith("text ") for line in shown)
    assert any(line.strip() == "charlm" for line in shown)
