"""Plots, as PNG files written atomically (matplotlib, the `plot` extra):
learning curves of a run, a report's confusion matrix, a comparison of
strategies, one curve per run."""

from tlkeras.plots.compare_plot import compare
from tlkeras.plots.confusion_plot import confusion_matrix
from tlkeras.plots.curves_plot import curves
from tlkeras.plots.history_plot import history
from tlkeras.plots.history_plot import transitions

__all__ = ["compare", "confusion_matrix", "curves", "history", "transitions"]
