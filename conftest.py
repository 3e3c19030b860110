"""Shared test set-up: every test session gets its own hyplib cache unless HYPLIB_TEST_CACHE is set."""
import os
import tempfile

os.environ["HYPLIB_CACHE"] = os.environ.get("HYPLIB_TEST_CACHE") or tempfile.mkdtemp(prefix="hyplib-test-")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
