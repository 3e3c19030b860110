"""hyplib's scoring inspectors, registered through the ``hyplib`` entry-point group."""
from hyplib import hookimpl

from .auc import AUC
from .correlation import Correlation
from .iou import IoU
from .mutual_info import MutualInfo
from .point_biserial import PointBiserial
from .probe import LinearProbe, Probe
from .selectivity import Selectivity


@hookimpl
def hyplib_inspectors():
    return [Correlation, PointBiserial, MutualInfo, AUC, IoU, Selectivity, Probe, LinearProbe]
