"""The report site, notebook display and the direct logit effect, on the planted model."""
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from hyplib_zoo.charlm import CharLM, CharLMConfig, CharLSTM
from matplotlib.figure import Figure

from hyplib.engine import behaviours, inspect
from hyplib.errors import HyplibError
from hyplib.report import write
from hyplib.report.behaviour import sample
from hyplib.report.logits import direct_effect, feeds_head, output_head
from hyplib.results import Result
from hyplib.testing import DIGIT_UNIT, UPPER_UNIT

from .conftest import char_kind, digit, upper


@pytest.fixture
def result(planted, records):
    return inspect(planted, records, [digit, upper, char_kind], progress=False)


def test_result_shows_as_html_and_plots_a_figure(result):
    page = result._repr_html_()
    assert page.startswith("<div class='hyplib-result'>") and "<table" in page
    assert f"planted:features[{DIGIT_UNIT}]" in page and "150 of 150 records" in page
    fig = result.plot()
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert set(rows[:2]) == {f"planted:features[{DIGIT_UNIT}]", f"planted:features[{UPPER_UNIT}]"}
    assert {t.get_text() for t in ax.get_xticklabels()} == {
        "test.digit", "test.upper", "test.kind=digit", "test.kind=upper", "test.kind=other"}


def test_importing_hyplib_keeps_the_matplotlib_backend():
    code = ("import matplotlib; matplotlib.use('svg'); import hyplib, hyplib.figures; "
            "from hyplib.plugins import catalog; cat = catalog(); "
            "[cat.get('studies', n) for n, _, _ in cat.entries('studies')]; "
            "import matplotlib.pyplot as plt; print(matplotlib.get_backend(), len(plt.get_fignums()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["svg", "0"]


def test_report_pages_and_their_numbers(result, planted, records, tmp_path):
    index = write(result, tmp_path, models=planted, data=records, hypotheses=[digit, upper,
                                                                              char_kind],
                  records=40, progress=False)
    page = index.read_text()
    assert "http://" not in page and "https://" not in page and "<script src" not in page
    unit = f"planted:features[{DIGIT_UNIT}]"
    assert f'href="unit/planted_features_{DIGIT_UNIT}.html"' in page
    # the heat map's cell for (digit unit, test.digit) shows the score and its interval
    row = result.table.query("unit == @DIGIT_UNIT and hypothesis == 'test.digit'").iloc[0]
    assert f"{row['score']:.2f}<small>[{row['ci_low']:.2f}, {row['ci_high']:.2f}]" in page
    assert (tmp_path / "hyp" / "test.digit.html").exists()
    unit_page = (tmp_path / "unit" / f"planted_features_{DIGIT_UNIT}.html").read_text()
    assert unit in unit_page and "Top-activating records" in unit_page
    # medians in the distribution are those of the unit's activations by label on the sample
    s = sample(planted, records, {"features": [DIGIT_UNIT]}, 40, seed=0)
    x, y, _ = s.symbols("features", DIGIT_UNIT, digit)
    medians = re.findall(r"quartiles ([-0-9.]+), ([-0-9.]+), ([-0-9.]+)", unit_page)
    assert [float(m[1]) for m in medians] == pytest.approx(
        [np.median(x[y == 0]), np.median(x[y == 1])], abs=1e-3)
    # the first record shown is the sampled record with the highest activation
    rows = [int(r) for r in re.findall(r"record (\d+), peak", unit_page)]
    peaks = [a.max() for a in s.unit("features", DIGIT_UNIT)]
    assert rows[0] == s.rows[int(np.argmax(peaks))]
    # digits are marked (the hypothesis' labels), and only digits
    marked = re.findall(r'<span class="m[^"]*"[^>]*>(.)</span>', unit_page)
    assert marked and all(c.isdigit() for c in marked)


def test_sample_matches_the_model_run_directly(planted, records):
    s = sample(planted, records, {"features": [UPPER_UNIT, DIGIT_UNIT]}, 10, seed=3)
    text = records[int(s.rows[0])]["text"]
    direct = behaviours(planted, [text], ["features"], "cpu")["features"][0]
    np.testing.assert_allclose(s.unit("features", DIGIT_UNIT)[0], direct[:, DIGIT_UNIT],
                               rtol=1e-6)


def test_report_without_records_and_bad_input(result, tmp_path):
    index = write(result, tmp_path / "r", progress=False)
    unit = next((tmp_path / "r" / "unit").glob("*.html")).read_text()
    assert "No records shown" in unit and index.exists()
    with pytest.raises(HyplibError, match="no scores"):
        write(Result(result.table.iloc[:0], result.meta), tmp_path / "empty")


def test_direct_logit_effect_equals_the_head_on_a_unit_vector():
    torch.manual_seed(0)
    cfg = CharLMConfig(hidden=16, layers=2, embed=8)
    lm = CharLM("tiny", CharLSTM(cfg), ("lstm.1",))
    head, vocab = output_head(lm)
    assert len(vocab) == head.out_features and vocab[2:4] == ["\t", "\n"]
    assert feeds_head(lm, "lstm.1", device="cpu") and not feeds_head(lm, "lstm.0", device="cpu")
    unit = 5
    h = torch.randn(16)
    e = torch.zeros(16)
    e[unit] = 1.0
    with torch.no_grad():
        change = (head(h + e) - head(h)).numpy()  # W_out @ e_unit, bias cancelled
    table = direct_effect(head, vocab, unit, k=4)
    assert list(table["direction"]) == ["promotes"] * 4 + ["suppresses"] * 4
    order = np.argsort(-change)
    assert list(table["token"][:4]) == [vocab[i] for i in order[:4]]
    assert list(table["token"][4:]) == [vocab[i] for i in order[::-1][:4]]
    np.testing.assert_allclose(table["effect"], np.r_[change[order[:4]], change[order[::-1][:4]]],
                               atol=1e-6)


def test_vision_unit_page_overlays_its_top_images(tmp_path):
    from .test_pixels import _model, _scenes, region

    model, data = _model(), _scenes()
    red = np.mean([np.asarray(m) == 1 for m in data["mask"]])
    result = inspect(model, data, [region], ["iou"], progress=False,
                     inspector_args={"iou": {"quantile": 1 - 0.98 * red}})
    write(result, tmp_path, models=model, data=data, hypotheses=[region], records=30,
          progress=False)
    page = (tmp_path / "unit" / "planted_features.0_0.html").read_text()
    assert re.search(r"Best at <a[^>]*>test.region = red</a>:\s+iou iou 0.9", page)
    assert (tmp_path / "unit" / "img" / "planted_features.0_0.png").stat().st_size > 1000
    # unit 0 (red minus the others) is highest on red pixels: the medians say so
    medians = {name: float(m) for name, m in re.findall(
        r"<title>(\w+): quartiles [-0-9.]+, ([-0-9.]+),", page)}
    assert medians["red"] > 0.5 > medians["none"]
    # its mask (at or above the 99.5% quantile) lies on the red square of its top image
    s = sample(model, data, {"features.0": [0]}, 30)
    acts = s.unit("features.0", 0)
    top = int(np.argmax([a.max() for a in acts]))
    mask = acts[top] >= np.quantile(np.concatenate([a.ravel() for a in acts]), 0.995)
    assert mask.any() and (np.asarray(s.batch["mask"][top])[mask] == 1).all()


def test_distribution_rows_by_label():
    from hyplib import Hypothesis
    from hyplib.report.pages import distribution

    rng = np.random.default_rng(0)
    x = rng.normal(size=4000)
    depth = Hypothesis("t.depth", lambda b: b, kind="continuous")
    rows, _ = distribution(x, rng.integers(0, 3, 4000).astype(float), depth)
    assert [r["name"] for r in rows] == ["0", "1", "2"]  # a few levels: one row each
    labels = rng.uniform(size=4000)
    rows, axis = distribution(x, labels, depth)
    assert len(rows) == 4 and sum(r["n"] for r in rows) == 4000  # else quartile bins
    first = x[labels <= np.quantile(labels, 0.25)]
    assert rows[0]["q"][2] == pytest.approx(np.median(first), abs=1e-9)
    assert axis["lo"] == pytest.approx(min(r["q"][0] for r in rows))
