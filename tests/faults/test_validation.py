"""Bad input at the boundary: a clear error naming the thing and the fix, before any work."""
import json

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import hyplib
from hyplib import cli
from hyplib.annotation import annotate
from hyplib.engine import inspect
from hyplib.errors import (
    AnnotationError,
    BehaviourError,
    DefinitionError,
    HyplibError,
    HyplibWarning,
)
from hyplib.models import TextModel
from hyplib.testing import PlantedModel
from hyplib.types import NAME

from ..conftest import digit
from .conftest import hyplib_cli

BASE = ["inspect", "--model", "charlm-tiny", "--data", "python-stdlib", "--hypotheses",
        "text.is_space", "--quiet"]


@pytest.mark.parametrize("args, message", [
    (["--max-records", "-1"], "max_records (--max-records) must be a whole number >= 1, not -1"),
    (["--max-records", "0"], "must be a whole number >= 1, not 0"),
    (["--batch-size", "-5"], "batch_size (--batch-size) must be a whole number >= 1, not -5"),
    (["--tolerance", "-1"], "tolerance (--tolerance), an interval half-width, must be a number > 0"),
    (["--tolerance", "nan"], "must be a number > 0, not nan"),
    (["--tolerance", "0.01", "--top-k", "-1"], "top_k (--top-k) must be a whole number >= 1"),
    (["--top-k", "3"], "give a tolerance (--tolerance) too"),
    (["--seed", "-1"], "seed (--seed) must be a whole number >= 0"),
    (["--window", "-1"], "window (--window), in characters (0: records whole), must be a whole "
                         "number >= 0, not -1"),
    (["--sample", "2"], "sample (--sample), a fraction, must be a number > 0 and <= 1, not 2.0"),
    (["--top", "0"], "--top must be a whole number >= 1, not 0"),
    (["--inspector-arg", "correlation.confidence=2"],
     "correlation.confidence must be a number > 0 and < 1, not 2"),
    (["--inspector", "probe", "--inspector-arg", "probe.k=-3"],
     "probe.k must be a whole number >= 1, not -3"),
    (["--inspector-arg", "correlation.nope=1"],
     "inspector 'correlation' has no parameter 'nope'; its parameters: confidence"),
    (["--inspector", "iou", "--inspector-arg", "iou.quantile=1.5"], "iou.quantile must be"),
    (["--inspector", "mutual_info", "--inspector-arg", "mutual_info.bins=1"],
     "mutual_info.bins must be a whole number >= 2, not 1"),
    (["--inspector-arg", "correlation.confidence=high"],
     "correlation.confidence must be a number > 0 and < 1, not 'high'"),
])
def test_cli_numbers_are_checked_before_the_run(args, message, capsys):
    assert cli.main(BASE + args) == 2
    err = capsys.readouterr().err
    assert err.startswith("hyplib: error: ") and message in err, err


def test_api_numbers_and_devices(records):
    planted = PlantedModel()
    with pytest.raises(DefinitionError, match="batch_size"):
        inspect(planted, records, [digit], batch_size=0, progress=False)
    with pytest.raises(DefinitionError, match="probe.k must be a whole number >= 1"):
        inspect(planted, records, [digit], ["probe"], inspector_args={"probe": {"k": 2.5}},
                progress=False)
    with pytest.raises(HyplibError, match="unknown device 'gpu0'"):
        inspect(planted, records, [digit], device="gpu0", progress=False)
    if not torch.cuda.is_available():
        with pytest.raises(HyplibError, match="device 'cuda:0' is not available here"):
            inspect(planted, records, [digit], device="cuda:0", progress=False)


class Stacked(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(1, 4), nn.Linear(4, 4)])

    def forward(self, codes):
        x = codes.float()[..., None]
        for layer in self.layers:
            x = layer(x)
        return x


class StackedModel(PlantedModel):
    def __init__(self):
        TextModel.__init__(self, "stacked", Stacked(), ("layers.1",))


def test_a_container_layer_is_a_clear_error(records):
    with pytest.raises(BehaviourError, match=r"layer 'layers' of model 'stacked' was not called "
                                             r"in the forward pass .* e\.g\. layers\.0, layers\.1"):
        inspect(StackedModel(), records, [digit], layers=["layers"], progress=False)
    inspect(StackedModel(), records, [digit], layers=["layers.0"], progress=False)


@pytest.mark.parametrize("labels, ok", [((-1, 1), False), ((0, 2), False), ((0.0, 1.0), True),
                                        ((False, True), True), ((0, 0.5), False)])
def test_binary_labels_must_be_zero_or_one(cache, texts, labels, ok):
    hyp = hyplib.hypothesis("fault.binary", version=str(labels))(
        lambda text: [labels[c.isdigit()] for c in text])
    if ok:
        annotate(texts, [hyp], progress=False)
        return
    with pytest.raises(AnnotationError, match=r"binary hypothesis 'fault.binary' gave the label "
                                              r".* binary labels must be 0/1 or booleans"):
        annotate(texts, [hyp], progress=False)


@given(st.text(min_size=1, max_size=40))
def test_hypothesis_names_are_never_paths(name):
    try:
        h = hyplib.hypothesis(name)(lambda text: [])
    except DefinitionError:
        assert not NAME.fullmatch(name)
        return
    assert "/" not in h.name and "\\" not in h.name and not h.name.startswith((".", "-"))
    assert h.name.strip() == h.name and "\0" not in h.name


@pytest.mark.parametrize("name", ["../../x", "/etc/passwd", "a/b", ".hidden", "", "a b", "x\0y"])
def test_path_like_names_are_rejected(name):
    with pytest.raises(DefinitionError, match="invalid hypothesis name"):
        hyplib.hypothesis(name)(lambda text: [])


def test_all_constant_labels_warn_and_nothing_scored_exits_non_zero(tmp_path, records):
    never = hyplib.hypothesis("fault.never")(lambda text: [False for _ in text])
    with pytest.warns(HyplibWarning, match="'fault.never' gives every symbol the same label"):
        result = inspect(PlantedModel(), records, [never, digit], progress=False)
    assert result.meta["warnings"] and result.top().hypothesis.unique().tolist() == ["test.digit"]

    data = tmp_path / "letters.jsonl"
    data.write_text("".join(json.dumps({"text": t}) + "\n" for t in ["abc def", "ghi", "jk l"]))
    out = hyplib_cli("inspect", "--model", "charlm-tiny", "--data", data, "--hypotheses",
                     "text.is_digit", "--quiet", "--device", "cpu")
    assert out.returncode == 3, out.stderr
    assert "hyplib: warning: hypothesis 'text.is_digit' gives every symbol the same label (0)" \
        in out.stderr
    assert "nothing could be scored" in out.stderr


@pytest.mark.parametrize("content, message", [
    (b"", "is empty: it has no records"),
    (b"\xff\xfe\x00bad\n", "cannot read"),
    (b'{"text": "a"}\n{"text": \n', "cannot read"),
    (b'{"words": "a"}\n', "has no 'text' (or 'image') column"),
])
def test_bad_data_files_are_clear_errors(tmp_path, cache, content, message, capsys):
    path = tmp_path / "data.jsonl"
    path.write_bytes(content)
    assert cli.main(BASE[:4] + [str(path)] + BASE[5:]) == 2
    assert message in capsys.readouterr().err


def test_unexpected_errors_are_one_line_and_debug_shows_the_traceback(monkeypatch, capsys):
    def boom(args):
        raise ZeroDivisionError("something broke")

    monkeypatch.setattr(cli, "_list", boom)
    assert cli.main(["list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("hyplib: error: ZeroDivisionError: something broke (in boom, ")
    assert err.strip().endswith("run with --debug for the traceback)") and err.count("\n") == 1
    with pytest.raises(ZeroDivisionError):
        cli.main(["--debug", "list"])
