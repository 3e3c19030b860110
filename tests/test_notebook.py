"""A notebook run (nbclient, a real IPython kernel): a plot shows after the catalog loads, and
a Result renders as HTML with its Figure as a PNG."""
import nbformat
from nbclient import NotebookClient

CELLS = [
    "%matplotlib inline\nimport hyplib\ncat = hyplib.catalog()\nimport hyplib.figures",
    "import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\nplt.show()",
    "from hyplib.engine import inspect\nfrom hyplib.testing import PlantedModel\n"
    "import datasets\n"
    "@hyplib.hypothesis('nb.digit')\ndef digit(text):\n    return [c.isdigit() for c in text]\n"
    "data = datasets.Dataset.from_dict({'text': ['ab1c2', 'X9y', 'hello 42'] * 10})\n"
    "result = inspect(PlantedModel(), data, [digit], progress=False)\nresult",
    "result.plot()",
]


def test_notebook_shows_plots_and_results(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    # jupyter_client starts ipykernel's "python3" kernel with this interpreter
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [cell.outputs for cell in nb.cells]
    assert not [o for out in outputs for o in out if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs[1]), outputs[1]
    html = [o["data"]["text/html"] for o in outputs[2] if "text/html" in o.get("data", {})]
    assert html and "hyplib Result" in html[0] and "planted:features[3]" in html[0]
    assert any("image/png" in o.get("data", {}) for o in outputs[3]), outputs[3]
