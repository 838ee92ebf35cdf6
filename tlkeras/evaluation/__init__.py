"""Reports on models: per-class evaluation reports, the layer-group
summary and learning curves."""

from tlkeras.evaluation.learning_curves import plot_learning_curves
from tlkeras.evaluation.report import Report
from tlkeras.evaluation.report import report
from tlkeras.evaluation.summary import summary

__all__ = ["Report", "plot_learning_curves", "report", "summary"]
