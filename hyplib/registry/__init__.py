"""The pack registry: ``registry.json``, the static index of known packs.

Each entry says what a pack provides, how to install it (a PEP 508 requirement and the sha256 of
each published file), and its licence and status; the format is ``registry.schema.json`` beside
this module. The registry file is ``--registry FILE``, else ``$HYPLIB_REGISTRY``, else the one
``hyplib registry update --url URL`` stored in the user's hyplib cache, else ``registry.json``
beside this module: in a source checkout a link to the repository's ``registry.json``, in an
installed hyplib the copy shipped with it. Listing, searching and showing entries read only the
JSON: no pack is imported.
"""
from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from ..errors import HyplibError
from ..manifest import dumps
from ..plugins import CORE, GROUP, HOOKS, SINGULAR, close_matches
from ..plugins import ENV_VAR as PLUGINS_VAR
from .install import Index, normal, pip_install, source, uninstall

ENV_VAR = "HYPLIB_REGISTRY"
SCHEMA = Path(__file__).with_name("registry.schema.json")
DEFAULT = Path(__file__).with_name("registry.json")
# Where `update` finds the packs of a source checkout, relative to the registry file.
REPO_PACKS = ("hypotheses/*/pyproject.toml", "zoo/pyproject.toml")
FIELDS = ("name", "kind", "summary", "version", "distribution", "requirement", "sha256", "files",
          "entry_point", "hyplib", "license", "homepage", "maintainers", "provides", "artefacts",
          "status")
# Fields `update` keeps as a maintainer wrote them; the others come from the pack itself.
KEPT = ("summary", "license", "homepage", "maintainers", "artefacts")
MAX_BYTES = 64 << 20  # the largest registry `update --url` reads
# The fields whose values reach pip's command line or requirements files.
PIP_FIELDS = ("requirement", "distribution", "version", "sha256")


class RegistryError(HyplibError):
    """A registry file that does not validate; ``problems`` are ``"$.json.path: reason"``."""

    def __init__(self, path, problems: list[str]):
        self.problems = problems
        super().__init__(f"{path} is not a valid registry:\n  " + "\n  ".join(problems))


@dataclass
class Registry:
    """A loaded, valid registry: its file and its entries (plain dicts, as in the JSON)."""

    path: Path
    packs: list[dict]

    @property
    def root(self) -> Path:
        """The folder that ``requirement`` paths are relative to (the repository's root)."""
        return self.path.resolve().parent

    def get(self, name: str) -> dict:
        for entry in self.packs:
            if entry["name"] == name:
                return entry
        names = [e["name"] for e in self.packs]
        hits = close_matches(name, names)
        hint = (f"did you mean {', '.join(map(repr, hits))}?" if hits
                else f"known: {', '.join(names)}")
        raise HyplibError(f"no pack {name!r} in the registry {self.path}; {hint}")

    def search(self, text: str) -> list[tuple[dict, list[str]]]:
        """Entries whose name, summary, distribution or provided names contain ``text``."""
        text = text.lower()
        found = []
        for entry in self.packs:
            hits = [n for n in provided_names(entry) if text in n.lower()]
            own = (entry["name"], entry["summary"], entry["distribution"])
            if hits or any(text in s.lower() for s in own):
                found.append((entry, hits))
        return found


def cached() -> Path:
    """Where ``update --url`` stores the registry it fetched: the user's hyplib cache."""
    from ..cache import cache_root

    return cache_root() / "registry" / "registry.json"


def locate(path: str | os.PathLike | None = None, must_exist: bool = True,
           fetched: bool = True) -> Path:
    """The registry file: ``path``, else ``$HYPLIB_REGISTRY``, else (if ``fetched``) the one
    ``update --url`` stored, else the one beside this module."""
    found = Path(path or os.environ.get(ENV_VAR)
                 or (cached() if fetched and cached().exists() else DEFAULT))
    if must_exist and not found.exists():
        raise HyplibError(f"no registry file at {found}; give --registry FILE or set {ENV_VAR}")
    return found


def load(path: str | os.PathLike | None = None) -> Registry:
    """Read and validate a registry file; raise :class:`RegistryError` listing every problem."""
    path = locate(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RegistryError(path, [f"$: not JSON: {exc}"]) from None
    problems = validate(doc)
    if problems:
        raise RegistryError(path, problems)
    return Registry(path, doc["packs"])


def providers(kind: str, name: str) -> str:
    """A hint naming the registry's packs that provide ``name`` (a glob) of ``kind`` and the
    command that installs them; "" when none does or the registry cannot be read."""
    import fnmatch

    try:
        packs = load().packs
    except HyplibError:
        return ""
    hits = [e["name"] for e in packs
            if any(fnmatch.fnmatchcase(_name(i), name) for i in e["provides"].get(kind, []))]
    if not hits:
        return ""
    return (f"the registry's pack{'s' if len(hits) > 1 else ''} {', '.join(map(repr, hits))} "
            f"provide{'' if len(hits) > 1 else 's'} it: hyplib registry install {hits[0]}")


def validate(doc) -> list[str]:
    """Every problem of a registry document, each as ``"$.json.path: reason"``; clashes aside."""
    import jsonschema

    cls = jsonschema.Draft202012Validator
    schema = json.loads(SCHEMA.read_text())
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    problems = [_explain(e, schema["$defs"]) for e in validator.iter_errors(doc)]
    return problems or _check_values(doc["packs"])


def _explain(error, defs: dict) -> str:
    """The most specific reason of a schema error (inside ``anyOf``/``oneOf``), with its path;
    for a choice between described forms, the forms it is none of."""
    from jsonschema.exceptions import best_match

    forms = [defs.get(s.get("$ref", "").rsplit("/", 1)[-1], {}).get("description") for s in
             (error.validator_value if error.validator == "anyOf" else [])]
    if forms and all(forms):
        return f"{error.json_path}: {error.instance!r} is none of: {'; '.join(forms)}"
    while error.context:
        error = best_match(error.context)
    return f"{error.json_path}: {error.message}"


def _check_values(packs: list[dict]) -> list[str]:
    """What the schema cannot say: PEP 440/508 syntax, duplicate names, that a requirement names
    the entry's own distribution and version, hashes only where a requirement is pinned."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    problems, first = [], {}
    for i, entry in enumerate(packs):
        at = f"$.packs[{i}]"
        if first.setdefault(entry["name"], i) != i:
            problems.append(f"{at}.name: {entry['name']!r} is also $.packs[{first[entry['name']]}]")
        checks = [("version", Version, InvalidVersion, "PEP 440 version"),
                  ("hyplib", SpecifierSet, InvalidSpecifier, "PEP 440 specifier")]
        if source(entry["requirement"]) == "pypi":
            checks.append(("requirement", Requirement, InvalidRequirement, "PEP 508 requirement"))
        for key, parse, invalid, what in checks:
            try:
                parse(entry[key])
            except invalid:
                problems.append(f"{at}.{key}: {entry[key]!r} is not a valid {what}")
        problems += [f"{at}.{p}" for p in _pins(entry)]
        for kind, items in entry["provides"].items():
            names = [_name(item) for item in items]
            problems += [f"{at}.provides.{kind}[{j}].name: {n!r} is listed twice"
                         for j, n in enumerate(names) if n in names[:j]]
    return problems


def _pins(entry: dict) -> list[str]:
    """How ``entry``'s requirement, sha256 and files fail to pin its own distribution."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.version import InvalidVersion, Version

    from .index import parse

    kind, dist = source(entry["requirement"]), normal(entry["distribution"])
    fields = [(k, entry[k]) for k in PIP_FIELDS if k in entry]
    fields += [(f"files[{j}].{k}", f[k]) for j, f in enumerate(entry.get("files", [])) for k in f]
    out = [f"{key}: {value!r} holds a control character (a line break would start another line "
           "of pip's requirements)" for key, value in fields
           if re.search(r"[\x00-\x1f\x7f]", value)]
    if out:
        return out
    if "sha256" in entry and kind != "url":
        out.append("sha256: only a wheel/sdist URL requirement can carry a sha256")
    if "files" in entry and kind != "pypi":
        out.append("files: only a PEP 508 requirement can carry files")
    if kind == "pypi":
        try:
            req, version = Requirement(entry["requirement"]), Version(entry["version"])
        except (InvalidRequirement, InvalidVersion):  # reported by the PEP 440/508 checks
            return out
        if normal(req.name) != dist:
            out.append(f"requirement: {req.name!r} is not the entry's distribution "
                       f"{entry['distribution']!r}")
        elif not req.specifier.contains(version, prereleases=True):
            out.append(f"requirement: {entry['requirement']!r} excludes the entry's version "
                       f"{entry['version']}")
        for j, f in enumerate(entry.get("files", [])):
            try:
                name, got = parse(f["filename"])
            except HyplibError as exc:
                out.append(f"files[{j}].filename: {exc}")
                continue
            if (name, Version(got)) != (dist, version):
                out.append(f"files[{j}].filename: {f['filename']!r} is not "
                           f"{entry['distribution']} {entry['version']}")
    if kind == "url" and " @ " in entry["requirement"]:
        if normal(entry["requirement"].split(" @ ")[0]) != dist:
            out.append(f"requirement: {entry['requirement']!r} does not name the entry's "
                       f"distribution {entry['distribution']!r}")
    return out


def clashes(packs: list[dict]) -> list[str]:
    """Names that several entries provide: each clash names all its packs (none wins)."""
    owners: dict[tuple[str, str], list[str]] = {}
    for entry in packs:
        for kind, items in entry["provides"].items():
            for item in items:
                owners.setdefault((kind, _name(item)), []).append(entry["name"])
    return [f"{SINGULAR[kind]} {name!r} is provided by several packs: {', '.join(who)}"
            for (kind, name), who in sorted(owners.items()) if len(who) > 1]


def _name(item) -> str:
    return item["name"] if isinstance(item, dict) else item


def provided_names(entry: dict) -> list[str]:
    return [_name(item) for items in entry["provides"].values() for item in items]


def kinds(entry: dict) -> list[str]:
    return [entry["kind"]] if isinstance(entry["kind"], str) else entry["kind"]


def _entry_point(entry: dict) -> tuple[str, str]:
    name, value = entry["entry_point"].split(" = ")
    return name, value


# ---- what is installed ------------------------------------------------------------------------

def provides_of(catalog, pack: str) -> dict:
    """What the loaded ``pack`` provides, in the registry's ``provides`` form."""
    out = {}
    for kind in HOOKS:
        items = [item for _, owner, item in catalog.entries(kind) if owner == pack]
        if items:
            out[kind] = [_describe(i) if kind == "hypotheses" else i.name for i in items]
    return out


def _describe(hyp) -> dict:
    out = {"name": hyp.name, "kind": hyp.kind, "level": hyp.level}
    return {**out, "classes": list(hyp.classes)} if hyp.classes else out


def observe(entry: dict, catalog) -> dict:
    """What is installed for ``entry`` (JSON-able): its distribution and its loaded pack."""
    ep_name, _ = _entry_point(entry)
    try:
        dist = metadata.distribution(entry["distribution"])
    except metadata.PackageNotFoundError:
        dist = None
    pack = next((p for p in catalog.packs if p.name == ep_name), None)
    return {
        "version": dist.version if dist else None,
        "entry_points": sorted(f"{e.name} = {e.value}" for e in dist.entry_points
                               if e.group == GROUP) if dist else [],
        "pack": None if pack is None else {
            "dist": pack.dist, "version": pack.version, "value": pack.value, "error": pack.error,
            "provides": provides_of(catalog, ep_name)},
    }


def differences(entry: dict, seen: dict) -> list[str] | None:
    """How what is installed (:func:`observe`) differs from ``entry``; None if not installed."""
    ep_name, value = _entry_point(entry)
    pack = seen["pack"]
    if pack is None:
        if seen["version"] is None:
            return None
        if entry["entry_point"] in seen["entry_points"]:
            return [f"entry point {ep_name!r} is installed but was not loaded (see {PLUGINS_VAR})"]
        declared = ", ".join(seen["entry_points"]) or "none"
        return [f"entry point {entry['entry_point']!r} does not exist: {entry['distribution']} "
                f"{seen['version']} declares hyplib entry points: {declared}"]
    out = []
    if normal(pack["dist"]) != normal(entry["distribution"]):
        out.append(f"entry point {ep_name!r} comes from {pack['dist']}, "
                   f"not {entry['distribution']}")
    if pack["value"] != value:
        out.append(f"entry point is {ep_name} = {pack['value']} installed, {value} in the registry")
    if pack["version"] != entry["version"]:
        out.append(f"version {pack['version']} installed, {entry['version']} in the registry")
    if pack["error"]:
        return out + [f"broken: {pack['error']}"]
    return out + _diff(entry["provides"], pack["provides"])


def _diff(static: dict, real: dict) -> list[str]:
    out = []
    for kind in HOOKS:
        want = {_name(i): i for i in static.get(kind, [])}
        got = {_name(i): i for i in real.get(kind, [])}
        what = SINGULAR[kind]
        out += [f"missing {what} {n!r}: in the registry, not provided"
                for n in want if n not in got]
        out += [f"extra {what} {n!r}: provided, not in the registry"
                for n in got if n not in want]
        if kind == "hypotheses":
            out += [f"{what} {n!r}: {key} {want[n].get(key)!r} in the registry, "
                    f"{got[n].get(key)!r} provided" for n in sorted(want.keys() & got.keys())
                    for key in ("kind", "level", "classes") if want[n].get(key) != got[n].get(key)]
    return out


@dataclass
class Report:
    """The result of :func:`verify`: problems per installed pack ([] when it matches)."""

    problems: dict[str, list[str]] = field(default_factory=dict)
    not_installed: list[str] = field(default_factory=list)
    unregistered: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())


def verify(registry: Registry, catalog=None) -> Report:
    """Compare each installed pack with its entry's static ``provides`` (and entry point)."""
    if catalog is None:
        from ..plugins import load_catalog

        catalog = load_catalog()
    catalog.load_all()
    report = Report()
    for entry in registry.packs:
        found = differences(entry, observe(entry, catalog))
        if found is None:
            report.not_installed.append(entry["name"])
        else:
            report.problems[entry["name"]] = found
    known = {_entry_point(e)[0] for e in registry.packs}
    report.unregistered = [p.name for p in catalog.packs if p.name not in known | {CORE}]
    return report


# ---- install ----------------------------------------------------------------------------------

_PROBE = """\
import json, sys
from hyplib.plugins import load_catalog
from hyplib.registry import observe
print(json.dumps(observe(json.loads(sys.argv[1]), load_catalog())))
"""


def install(registry: Registry, name: str, target: str | os.PathLike | None = None,
            deps: bool = True, index: Index = Index(), require_hashes: bool = False,
            lock: str | os.PathLike | None = None) -> list[str]:
    """pip-install the pack ``name`` as its entry pins it (:mod:`.install`: every artefact
    hash-checked, nothing installed on a mismatch), then check it loads in a fresh process.
    Returns the differences from the entry's ``provides``."""
    from packaging.specifiers import SpecifierSet

    from .. import __version__

    entry = registry.get(name)
    if not SpecifierSet(entry["hyplib"]).contains(__version__, prereleases=True):
        raise HyplibError(f"pack {name!r} needs hyplib {entry['hyplib']}; "
                          f"this is hyplib {__version__}")
    pip_install(registry, entry, index, target, deps, require_hashes, lock)
    env = dict(os.environ, **{PLUGINS_VAR: _entry_point(entry)[0]})
    if target:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(target), env.get("PYTHONPATH")) if p)
    probe = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(entry)], env=env,
                           capture_output=True, text=True)
    if probe.returncode:
        raise HyplibError(f"installed {name!r}, but loading it failed:\n{probe.stderr[-2000:]}")
    seen = json.loads(probe.stdout)
    found = differences(entry, seen)
    if found is None or seen["pack"] is None or seen["pack"]["error"]:
        why = "; ".join(found or [f"{entry['distribution']} is not found"])
        raise HyplibError(f"installed {name!r}, but its entry point does not load: {why}")
    return found


# ---- update (maintainers) ---------------------------------------------------------------------

def repo_packs(root: Path) -> list[tuple[str, dict]]:
    """(path relative to ``root``, ``[project]`` table) of each pack in a source checkout."""
    found = []
    for pattern in REPO_PACKS:
        for pyproject in sorted(root.glob(pattern)):
            project = tomllib.loads(pyproject.read_text())["project"]
            found.append((pyproject.parent.relative_to(root).as_posix(), project))
    return found


def update(path: str | os.PathLike | None = None, catalog=None,
           today: datetime.date | None = None, dists: str | os.PathLike | None = None) -> list[str]:
    """Regenerate the entries of this repository's packs from the installed packs.

    ``provides``, ``kind``, ``version``, the entry point and ``status`` come from the packs;
    the requirement and ``files`` from the wheels and sdists in ``dists``
    (``scripts/build-dists``), or the entry's own while its version is unchanged; the fields in
    :data:`KEPT` stay as written. Writes the file atomically; returns notes.
    """
    from ..cache import atomic_path

    path = locate(path, must_exist=False, fetched=False).resolve()
    packs = load(path).packs if path.exists() else []
    sources = repo_packs(path.parent)
    if not sources:
        raise HyplibError(f"no packs beside {path}: `update` runs in a source checkout")
    if catalog is None:
        from ..plugins import load_catalog

        catalog = load_catalog()
    catalog.load_all()
    loaded = {p.name: p for p in catalog.packs}
    by_ep = {_entry_point(e)[0]: i for i, e in enumerate(packs)}
    today = (today or datetime.date.today()).isoformat()
    notes = []
    for rel, project in sources:
        for ep_name, value in project.get("entry-points", {}).get(GROUP, {}).items():
            pack = loaded.get(ep_name)
            if pack is None:
                notes.append(f"{ep_name}: not loaded (pip install -e {rel}? {PLUGINS_VAR}?); "
                             "entry not updated")
                continue
            old = packs[by_ep[ep_name]] if ep_name in by_ep else None
            new = _entry(rel, project, ep_name, value, old, dists)
            if "files" not in new:
                notes.append(f"{ep_name}: no wheel or sdist of {project['name']} "
                             f"{project['version']}{f' in {dists}' if dists else ''}: it installs "
                             f"from {rel} (scripts/build-dists DIR; update --dists DIR)")
            if pack.error:
                new["status"] = {"failing": pack.error, "checked": today}
                notes.append(f"{ep_name}: broken: {pack.error}")
            else:
                new["provides"] = provides_of(catalog, ep_name)
                found = [k for k in HOOKS if k in new["provides"]] or kinds(new)
                new["kind"] = found[0] if len(found) == 1 else found
                if new != old or "verified" not in old["status"]:
                    new["status"] = {"verified": today}
            if ep_name in by_ep:
                packs[by_ep[ep_name]] = new
            else:
                packs.append(new)
            notes.append(f"{ep_name}: {'unchanged' if new == old else 'updated'}")
    notes += write_manifests(catalog, path.parent)
    doc = {"schema_version": 1, "packs": sorted(packs, key=lambda e: e["name"])}
    problems = validate(doc)
    if problems:
        raise RegistryError(path, problems)
    with atomic_path(path) as tmp:
        tmp.write_text(dumps(doc), encoding="utf-8")
    return notes


def fetch(url: str, sha256: str | None = None) -> tuple[Path, list[str]]:
    """Download a registry from ``url`` (https or file), check it (and its ``sha256`` if given)
    and store it in the user's cache (:func:`cached`), where it takes precedence over the one
    shipped with hyplib. Returns where it was stored and what changed."""
    import hashlib
    import urllib.request

    from ..cache import atomic_path

    if not re.match(r"(https|file)://", url):
        raise HyplibError(f"registry URL {url!r}: give an https:// or file:// URL")
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read(MAX_BYTES + 1)
    except (OSError, ValueError) as exc:
        raise HyplibError(f"could not fetch the registry {url}: {exc}") from None
    if len(data) > MAX_BYTES:
        raise HyplibError(f"{url} is over {MAX_BYTES >> 20} MiB: not a registry")
    if sha256 and hashlib.sha256(data).hexdigest() != sha256.lower():
        raise HyplibError(f"{url} has sha256 {hashlib.sha256(data).hexdigest()}, not {sha256}; "
                          "nothing stored")
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RegistryError(url, [f"$: not JSON: {exc}"]) from None
    problems = validate(doc)
    problems += [f"$.packs[{i}].requirement: {e['requirement']!r} is a folder of the registry's "
                 "tree, which a downloaded registry does not have"
                 for i, e in enumerate(doc["packs"]) if source(e["requirement"]) == "path"
                 ] if not problems else []
    if problems:
        raise RegistryError(url, problems)
    try:
        before = {e["name"]: e for e in load().packs}
    except HyplibError:
        before = {}
    target = cached()
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    notes = [_change(before.get(e["name"]), e) for e in doc["packs"] if before.get(e["name"]) != e]
    notes += [f"{name}: no longer in the registry" for name in before
              if name not in {e["name"] for e in doc["packs"]}]
    return target, notes


def _change(old: dict | None, new: dict) -> str:
    if old is None:
        return f"{new['name']}: new, {new['version']}"
    if old["version"] != new["version"]:
        return f"{new['name']}: {old['version']} -> {new['version']}"
    fields = [k for k in FIELDS if old.get(k) != new.get(k)]
    return f"{new['name']}: {new['version']}, changed {', '.join(fields)}"


def write_manifests(catalog, root: Path) -> list[str]:
    """Write ``manifest.json`` into the import package of the core and of each pack of the
    source checkout at ``root`` (:mod:`hyplib.manifest`), from the loaded packs."""
    from .. import manifest
    from ..cache import atomic_path

    catalog.load_all()
    notes = []
    for pack in catalog.packs:
        folder = manifest.package_dir(pack.value)
        if pack.error or folder is None or root not in folder.resolve().parents:
            continue
        text = manifest.dumps(manifest.build(catalog, pack.name))
        target = folder / manifest.FILE
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            with atomic_path(target) as tmp:
                tmp.write_text(text, encoding="utf-8")
            notes.append(f"{pack.name}: wrote {target.relative_to(root)}")
    return notes


def _entry(rel: str, project: dict, ep_name: str, value: str, old: dict | None,
           dists: str | os.PathLike | None) -> dict:
    """The entry of a repository pack from its ``pyproject.toml``, keeping ``old``'s KEPT fields;
    a requirement on its compatible releases with the ``files`` built in ``dists``, else
    ``old``'s of the same version, else its folder in the repository."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    from .. import __version__
    from .index import files_of

    core = [str(r.specifier) for r in map(Requirement, project.get("dependencies", []))
            if r.name == "hyplib"]
    licence = project.get("license")
    licence = licence.get("text", "see LICENSE") if isinstance(licence, dict) else licence
    urls = project.get("urls", {})
    people = [p.get("name") or p["email"]
              for p in project.get("maintainers", project.get("authors", []))]
    version = Version(project["version"])
    files = files_of(Path(dists), project["name"], project["version"]) if dists else []
    if not files and old and old["version"] == project["version"]:
        files = old.get("files", [])
    series = f">={version.major}.{version.minor},<{version.major}.{version.minor + 1}"
    entry = {
        "name": ep_name, "kind": "hypotheses",
        "summary": project.get("description") or ep_name, "version": project["version"],
        "distribution": project["name"],
        "requirement": f"{project['name']}{series}" if files else rel if "/" in rel else f"./{rel}",
        **({"files": files} if files else {}),
        "entry_point": f"{ep_name} = {value}", "hyplib": (core or [f">={__version__}"])[0],
        "license": {"code": licence or "UNKNOWN", "data": None},
        "homepage": urls.get("Homepage") or urls.get("Repository"),
        "maintainers": people or ["hyplib developers"],
        "provides": {}, "artefacts": [], "status": {"failing": "not yet checked"},
    }
    if old:
        entry.update({k: old[k] for k in KEPT}, kind=old["kind"], provides=old["provides"],
                     status=old["status"])
    return {k: entry[k] for k in FIELDS if k in entry}


# ---- command line -----------------------------------------------------------------------------

def _status(entry: dict) -> str:
    status = entry["status"]
    if "verified" in status:
        return f"verified {status['verified']}"
    return f"FAILING: {status['failing']}"


def _line(entry: dict) -> str:
    return (f"{entry['name']:<12} {entry['version']:<8} {','.join(kinds(entry)):<20} "
            f"{entry['summary']}")


def _warn_clashes(registry: Registry) -> None:
    for clash in clashes(registry.packs):
        print(f"warning: {clash}", file=sys.stderr)


def _cmd_list(args) -> int:
    registry = load(args.registry)
    for entry in registry.packs:
        print(_line(entry) + ("" if "verified" in entry["status"] else f"  [{_status(entry)}]"))
    _warn_clashes(registry)
    return 0


def _cmd_search(args) -> int:
    registry = load(args.registry)
    found = registry.search(args.text)
    for entry, hits in found:
        print(_line(entry))
        if hits:
            more = f", ... ({len(hits) - 8} more)" if len(hits) > 8 else ""
            print(f"  provides: {', '.join(hits[:8])}{more}")
    if not found:
        print(f"no pack matches {args.text!r}", file=sys.stderr)
    _warn_clashes(registry)
    return 0 if found else 1


def _cmd_show(args) -> int:
    registry = load(args.registry)
    entry = registry.get(args.name)
    if args.json:
        print(json.dumps(entry, indent=2, ensure_ascii=False))
        return 0
    licence = entry["license"]
    print(f"{entry['name']} {entry['version']}: {entry['summary']}")
    rows = [("kind", ", ".join(kinds(entry))),
            ("install", f"hyplib registry install {entry['name']}   (pip: {entry['requirement']})"),
            ("distribution", entry["distribution"]), ("entry point", entry["entry_point"]),
            ("hyplib", entry["hyplib"]),
            ("licence", f"code {licence['code']}; data {licence['data'] or 'none'}"),
            ("homepage", entry["homepage"] or "-"),
            ("maintainers", ", ".join(entry["maintainers"])),
            ("status", _status(entry))]
    rows += [("file", f"{f['filename']} (sha256 {f['sha256']})") for f in entry.get("files", [])]
    rows += [("artefact", f"{a['url']} ({a['size']} bytes, sha256 {a['sha256']})")
             for a in entry["artefacts"]]
    for key, text in rows:
        print(f"  {key + ':':<14}{text}")
    for kind, items in entry["provides"].items():
        print(f"  {kind} ({len(items)}):")
        for item in items:
            if kind != "hypotheses":
                print(f"    {item}")
                continue
            classes = f": {', '.join(item['classes'])}" if "classes" in item else ""
            print(f"    {item['name']:<34} {item['kind']}, {item['level']}{classes}")
    mine = set(provided_names(entry))
    for clash in clashes(registry.packs):
        if any(repr(n) in clash for n in mine):
            print(f"  clash: {clash}")
    return 0


def _cmd_install(args) -> int:
    registry = load(args.registry)
    index = Index(args.index_url, tuple(args.extra_index_url), tuple(args.find_links))
    found = install(registry, args.name, args.target, not args.no_deps, index,
                    args.require_hashes or bool(args.lock), args.lock)
    entry = registry.get(args.name)
    how = ("from the registry's tree" if source(entry["requirement"]) == "path"
           else "its sha256 checked")
    print(f"installed {args.name!r} ({entry['distribution']} {entry['version']}, {how}); "
          "its entry point loads")
    for difference in found:
        print(f"  warning: {difference}")
    return 0


def _cmd_uninstall(args) -> int:
    registry = load(args.registry)
    version = uninstall(registry, args.name)
    print(f"uninstalled {args.name!r} ({registry.get(args.name)['distribution']} {version}); "
          "its dependencies stay installed")
    return 0


def _cmd_verify(args) -> int:
    report = verify(load(args.registry))
    for name, problems in report.problems.items():
        print(f"{name:<12} {'ok' if not problems else f'{len(problems)} problem(s)'}")
        for problem in problems:
            print(f"  {problem}")
    for name in report.not_installed:
        print(f"{name:<12} not installed")
    for name in report.unregistered:
        print(f"{name:<12} installed, not in the registry")
    return 0 if report.ok else 1


def _cmd_validate(args) -> int:
    try:
        registry = load(args.file or args.registry)
    except RegistryError as exc:
        print(exc, file=sys.stderr)
        return 1
    found = clashes(registry.packs)
    for clash in found:
        print(f"clash: {clash}", file=sys.stderr)
    print(f"{registry.path}: {len(registry.packs)} packs, "
          f"{'valid' if not found else f'{len(found)} name clash(es)'}")
    return 1 if found else 0


def _cmd_update(args) -> int:
    if args.url:
        path, notes = fetch(args.url, args.sha256)
        print("\n".join(notes or ["no pack changed"]))
        print(f"stored {path}; it takes precedence over the registry shipped with hyplib")
        return 0
    for note in update(args.registry, dists=args.dists):
        print(note)
    print(f"wrote {locate(args.registry, fetched=False).resolve()}")
    return 0


def add_parser(subparsers) -> None:
    """Add ``hyplib registry ...`` to the CLI's subcommands."""
    import argparse

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--registry", metavar="FILE",
                        help=f"registry file (default: ${ENV_VAR}, else hyplib's own)")
    reg = subparsers.add_parser("registry", help="the index of known packs: list, search, install")
    sub = reg.add_subparsers(dest="registry_command", required=True)
    sub.add_parser("list", parents=[common], help="every pack in the registry").set_defaults(
        func=_cmd_list)
    p = sub.add_parser("search", parents=[common], help="packs whose name, summary or "
                       "provided names contain TEXT")
    p.add_argument("text")
    p.set_defaults(func=_cmd_search)
    p = sub.add_parser("show", parents=[common], help="one pack's entry")
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="the raw JSON entry")
    p.set_defaults(func=_cmd_show)
    p = sub.add_parser("install", parents=[common], help="pip-install a pack as its entry pins "
                       "it, checking the sha256 of each of its files")
    p.add_argument("name")
    p.add_argument("--index-url", metavar="URL", help="the package index (default: pip's, PyPI)")
    p.add_argument("--extra-index-url", metavar="URL", action="append", default=[],
                   help="another index")
    p.add_argument("--find-links", "-f", metavar="DIR", action="append", default=[],
                   help="a folder (or URL) of wheels and sdists to look in too")
    p.add_argument("--require-hashes", action="store_true", help="hash-check every dependency "
                   "too: they must be pinned with hashes in --lock FILE (or already installed)")
    p.add_argument("--lock", metavar="FILE", help="a pip requirements file pinning dependencies "
                   "with --hash (implies --require-hashes)")
    p.add_argument("--target", metavar="DIR", help="install into DIR (pip --target)")
    p.add_argument("--no-deps", action="store_true", help="do not install its dependencies")
    p.set_defaults(func=_cmd_install)
    p = sub.add_parser("uninstall", parents=[common], help="pip-uninstall a pack's distribution")
    p.add_argument("name")
    p.set_defaults(func=_cmd_uninstall)
    sub.add_parser("verify", parents=[common], help="compare the installed packs with their "
                   "entries").set_defaults(func=_cmd_verify)
    p = sub.add_parser("validate", parents=[common], help="check a registry file against the "
                       "schema, and for name clashes")
    p.add_argument("file", nargs="?")
    p.set_defaults(func=_cmd_validate)
    p = sub.add_parser("update", parents=[common], help="fetch a newer registry (--url), or, for "
                       "maintainers, regenerate this repository's entries from the installed packs")
    p.add_argument("--url", help="https:// or file:// URL of a registry.json: checked, then "
                   "stored in the hyplib cache, where it takes precedence over hyplib's own")
    p.add_argument("--sha256", help="with --url: the file's expected sha256")
    p.add_argument("--dists", metavar="DIR", help="maintainers: the wheels and sdists built by "
                   "scripts/build-dists, whose sha256 the entries record")
    p.set_defaults(func=_cmd_update)
