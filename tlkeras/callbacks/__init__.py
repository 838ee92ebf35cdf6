"""Callbacks: per-group learning-rate logs and schedules."""

from tlkeras.callbacks.group_learning_rates import GroupLearningRates
from tlkeras.callbacks.learning_rate_scheduler import LearningRateScheduler

__all__ = ["GroupLearningRates", "LearningRateScheduler"]
