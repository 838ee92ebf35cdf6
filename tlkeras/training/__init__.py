"""Training machinery: per-group optimizers, LR spreads, optimizer state."""

from tlkeras.training.factories import discriminative
from tlkeras.training.factories import per_group
from tlkeras.training.group_optimizer import GroupOptimizer
from tlkeras.training.optimizer_state import rebuild_optimizer
from tlkeras.training.optimizer_state import same_variables
from tlkeras.training.scaled_schedule import ScaledSchedule
from tlkeras.training.spreads import geometric_spread
from tlkeras.training.spreads import layer_decay

__all__ = [
    "GroupOptimizer",
    "ScaledSchedule",
    "discriminative",
    "geometric_spread",
    "layer_decay",
    "per_group",
    "rebuild_optimizer",
    "same_variables",
]
