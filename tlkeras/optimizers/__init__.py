"""Deprecated: per-group optimizers live in `tlkeras.training`.

`tlkeras.optimizers.discriminative` & co. still work for one release and
warn with their new name (`tlkeras.training.discriminative`).
"""

from tlkeras._utils.deprecation import moved_names

__all__ = []
__getattr__ = moved_names(
    __name__,
    {
        name: "tlkeras.training"
        for name in (
            "GroupOptimizer",
            "ScaledSchedule",
            "discriminative",
            "per_group",
            "set_learning_rate",
        )
    },
)
