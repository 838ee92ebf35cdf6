"""Reports on models: per-class evaluation reports and the layer-group
summary. (Plots are in `tlkeras.plots`.)"""

from tlkeras._utils.deprecation import moved_names
from tlkeras.evaluation.report import Report
from tlkeras.evaluation.report import report
from tlkeras.evaluation.summary import summary
from tlkeras.evaluation.tta import predict

__all__ = ["Report", "predict", "report", "summary"]

# `plot_learning_curves` is now `tlkeras.plots.curves`, kept for a release.
__getattr__ = moved_names(
    __name__, {"plot_learning_curves": ("tlkeras.plots", "curves")}
)
