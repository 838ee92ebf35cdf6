"""Reports on models: the layer-group summary and learning curves."""

from tlkeras.evaluation.learning_curves import plot_learning_curves
from tlkeras.evaluation.summary import summary

__all__ = ["plot_learning_curves", "summary"]
