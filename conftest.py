"""Shared test set-up: every test session gets its own hyplib cache unless HYPLIB_TEST_CACHE is
set, and UD English-EWT is read from the shared data folder beside the repository if present."""
import os
import tempfile
from pathlib import Path

os.environ["HYPLIB_CACHE"] = os.environ.get("HYPLIB_TEST_CACHE") or tempfile.mkdtemp(prefix="hyplib-test-")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
_UD = Path(__file__).resolve().parent.parent / "shared/data/ud-english-ewt"
if "HYPLIB_UD_EWT" not in os.environ and _UD.is_dir():
    os.environ["HYPLIB_UD_EWT"] = str(_UD)
