"""Per-group optimizers: `tlkeras.optimizers.discriminative` & co.

The code lives in `tlkeras.training`; this is the public surface users
import (`tlk.optimizers.per_group(model, {...})`).
"""

from tlkeras.training.factories import discriminative
from tlkeras.training.factories import per_group
from tlkeras.training.group_optimizer import GroupOptimizer
from tlkeras.training.learning_rate import set_learning_rate
from tlkeras.training.scaled_schedule import ScaledSchedule

__all__ = [
    "GroupOptimizer",
    "ScaledSchedule",
    "discriminative",
    "per_group",
    "set_learning_rate",
]
