"""``hyplib topo`` and ``hyplib report`` end to end, on the tiny char-LSTM recipe."""
import re

from .test_cli import _hyplib


def test_topo_and_report_commands(tmp_path):
    site = tmp_path / "site"
    run = _hyplib("topo", "--model", "charlm-tiny", "--layer", "lstm.1", "--data",
                  "python-stdlib", "--hypothesis", "grammar.python.token_type", "--records",
                  "15", "--points", "600", "--out", str(site / "topo" / "t.html"), "--quiet")
    assert run.returncode == 0, run.stderr
    assert re.match(r"charlm-tiny:lstm.1: 600 vectors from 15 records; \d+ nodes, \d+ edges, "
                    r"\d+ components, -?\d+ cycles \(eps [0-9.e-]+\)\nwrote ", run.stdout)
    result = tmp_path / "r.parquet"
    run = _hyplib("inspect", "--model", "charlm-tiny", "--data", "python-stdlib", "--layer",
                  "lstm.1", "--hypotheses", "grammar.python.in_string", "--max-records", "40",
                  "--out", str(result), "--quiet")
    assert run.returncode == 0, run.stderr
    run = _hyplib("report", str(result), "--out", str(site), "--records", "15",
                  "--max-units", "2", "--quiet")  # the model and data the result names
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"wrote {site / 'index.html'}"
    assert 'href="topo/t.html"' in (site / "index.html").read_text()  # the mapper page, linked
    pages = sorted((site / "unit").glob("charlm-tiny_lstm.1_*.html"))
    assert len(pages) == 2
    page = pages[0].read_text()
    assert "Top-activating records" in page and 'id="logits"' in page  # lstm.1 feeds the head
    run = _hyplib("report", str(result), "--out", str(site), "--quiet", "--data", "nope")
    assert run.returncode == 2 and "unknown dataset 'nope'" in run.stderr
