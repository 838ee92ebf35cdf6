"""Callbacks: unfreezing inside `fit`, per-group learning rates, the
best epoch's weights across stages."""

from tlkeras.callbacks.backup_and_restore import BackupAndRestore
from tlkeras.callbacks.best_weights import BestWeights
from tlkeras.callbacks.group_learning_rates import GroupLearningRates
from tlkeras.callbacks.learning_rate_scheduler import LearningRateScheduler
from tlkeras.callbacks.progressive_unfreezing import GradualUnfreezing
from tlkeras.callbacks.progressive_unfreezing import ProgressiveUnfreezing

__all__ = [
    "BackupAndRestore",
    "BestWeights",
    "GradualUnfreezing",
    "GroupLearningRates",
    "LearningRateScheduler",
    "ProgressiveUnfreezing",
]
