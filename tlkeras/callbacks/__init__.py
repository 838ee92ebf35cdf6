"""Callbacks: unfreezing inside `fit`, per-group learning rates."""

from tlkeras.callbacks.group_learning_rates import GroupLearningRates
from tlkeras.callbacks.learning_rate_scheduler import LearningRateScheduler
from tlkeras.callbacks.progressive_unfreezing import GradualUnfreezing
from tlkeras.callbacks.progressive_unfreezing import ProgressiveUnfreezing

__all__ = [
    "GradualUnfreezing",
    "GroupLearningRates",
    "LearningRateScheduler",
    "ProgressiveUnfreezing",
]
