"""What makes a trainability change take effect, and per-group training.

`sync_trainable` is the one function that makes the current `trainable`
flags take effect (optimizer state rebuilt, train function retraced).
Per-group optimizers (`GroupOptimizer`, `per_group`, `discriminative`),
learning-rate spreads and the helpers that read and set rates through any
optimizer wrapper live here too.
"""

from tlkeras.training.factories import discriminative
from tlkeras.training.factories import per_group
from tlkeras.training.group_optimizer import GroupOptimizer
from tlkeras.training.learning_rate import group_learning_rates
from tlkeras.training.learning_rate import inner_optimizer
from tlkeras.training.learning_rate import set_learning_rate
from tlkeras.training.optimizer_state import optimizer_tree
from tlkeras.training.optimizer_state import rebuild_optimizer
from tlkeras.training.optimizer_state import same_variables
from tlkeras.training.optimizer_state import unpin_train_graphs
from tlkeras.training.scaled_schedule import ScaledSchedule
from tlkeras.training.spreads import geometric_spread
from tlkeras.training.spreads import layer_decay
from tlkeras.training.trainability import sync_trainable

__all__ = [
    "GroupOptimizer",
    "ScaledSchedule",
    "discriminative",
    "geometric_spread",
    "group_learning_rates",
    "inner_optimizer",
    "layer_decay",
    "optimizer_tree",
    "per_group",
    "rebuild_optimizer",
    "same_variables",
    "set_learning_rate",
    "sync_trainable",
    "unpin_train_graphs",
]
