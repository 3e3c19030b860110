"""hyplib's standard scoring inspectors: streaming measures of unit–hypothesis affinity."""
from .auc import AUC
from .correlation import Correlation
from .iou import IoU
from .linear_probe import LinearProbe
from .mutual_info import MutualInfo
from .point_biserial import PointBiserial
from .probe import Probe
from .selectivity import Selectivity

STANDARD = (Correlation, PointBiserial, MutualInfo, AUC, IoU, Selectivity, Probe, LinearProbe)

__all__ = ["AUC", "Correlation", "IoU", "LinearProbe", "MutualInfo", "PointBiserial", "Probe",
           "Selectivity", "STANDARD"]
