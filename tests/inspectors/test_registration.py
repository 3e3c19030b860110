"""The per-unit inspectors are registered through the entry point."""
from hyplib.inspectors import AUC, IoU, MutualInfo, PointBiserial, Selectivity
from hyplib.plugins import load_catalog


def test_discovered_through_entry_point():
    cat = load_catalog()
    for cls in (PointBiserial, MutualInfo, AUC, IoU, Selectivity):
        assert cat.get("inspectors", cls.name) is cls
