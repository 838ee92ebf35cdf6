"""Read and set learning rates through any optimizer wrapper."""

import keras

from tlkeras.training.group_optimizer import GroupOptimizer


def inner_optimizer(optimizer):
    """The optimizer inside `LossScaleOptimizer` wrappers (mixed precision),
    or `optimizer` itself.

    Example:

    >>> adam = keras.optimizers.Adam()
    >>> inner_optimizer(keras.optimizers.LossScaleOptimizer(adam)) is adam
    True
    """
    while isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = optimizer.inner_optimizer
    return optimizer


def set_learning_rate(optimizer, value) -> None:
    """Set the (base) learning rate; per-group rates keep their ratios.

    For a `GroupOptimizer` every group's rate becomes `value` times its
    multiplier; for other optimizers (mixed-precision wrappers included)
    it is plain `optimizer.learning_rate = value`.

    Example:

    >>> opt = keras.optimizers.Adam(1e-3)
    >>> set_learning_rate(opt, 1e-4)
    >>> round(float(opt.learning_rate), 6)
    0.0001
    """
    inner_optimizer(optimizer).learning_rate = value


def group_learning_rates(optimizer) -> dict:
    """`{group: rate}` for a `GroupOptimizer`, else `{}`."""
    optimizer = inner_optimizer(optimizer)
    if isinstance(optimizer, GroupOptimizer):
        return optimizer.group_learning_rates()
    return {}
