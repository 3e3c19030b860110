"""A pack that exits, or whose hook returns junk, is broken on its own; the others work."""
import pytest

from hyplib.testing import install_packs

from .conftest import hyplib_cli

PACKS = {
    "exitpack": ("exiting", '''
        import sys
        sys.exit(3)
    '''),
    "hookexitpack": ("hookexit", '''
        import sys
        import hyplib

        @hyplib.hookimpl
        def hyplib_hypotheses():
            sys.exit("bye")
    '''),
    "junkpack": ("junk", '''
        import hyplib

        @hyplib.hookimpl
        def hyplib_hypotheses():
            return ["text.is_space", 42]

        @hyplib.hookimpl
        def hyplib_inspectors():
            return [object()]
    '''),
    "nonamepack": ("noname", '''
        import hyplib

        class Fake:
            name = 7
            def build(self):
                pass

        @hyplib.hookimpl
        def hyplib_models():
            return [Fake()]
    '''),
    "pathpack": ("pathname", '''
        import hyplib

        @hyplib.hypothesis("../../escape")
        def escape(text):
            return [True for c in text]

        @hyplib.hookimpl
        def hyplib_hypotheses():
            return [escape]
    '''),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return install_packs(tmp_path_factory.mktemp("isolation"), PACKS)


def test_every_bad_pack_is_broken_and_named(site):
    out = hyplib_cli("list", "packs", site=site)
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines()[1:]}
    assert "BROKEN: SystemExit: 3" in lines["exiting"]
    assert "BROKEN: hyplib_hypotheses() failed: SystemExit: bye" in lines["hookexit"]
    assert "BROKEN: hyplib_hypotheses() failed: TypeError: it returned str 'text.is_space', " \
           "not a Hypothesis" in lines["junk"]
    assert "BROKEN: hyplib_models() failed: TypeError: it returned a model whose name is 7" \
           in lines["noname"]
    assert "BROKEN: DefinitionError: invalid hypothesis name '../../escape'" in lines["pathname"]
    assert lines["text"].endswith("ok")


def test_other_packs_keep_working(site, tmp_path):
    out = hyplib_cli("list", "hypotheses", site=site)
    assert out.returncode == 0 and "text.is_space" in out.stdout
    assert "escape" not in out.stdout
