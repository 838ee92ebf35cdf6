"""A `LearningRateScheduler` that keeps per-group spreads."""

import inspect

import keras
from keras import ops

from tlkeras.training import inner_optimizer
from tlkeras.training import set_learning_rate


class LearningRateScheduler(keras.callbacks.Callback):
    """Keras's `LearningRateScheduler`, acting on the base rate.

    Keras's own callback sets the same rate on every sub-optimizer of a
    per-group optimizer, which erases the spread between groups. This one
    sets the base rate, and every group keeps its multiplier. With a single
    optimizer it behaves like Keras's.

    Args:
        schedule: callable `(epoch, lr) -> lr` or `epoch -> lr`, where `lr`
            is the current base rate.
        verbose: int, 1 prints each change. Defaults to `0`.

    Example:

    >>> callback = LearningRateScheduler(lambda epoch: 1e-3 * 0.9**epoch)
    """

    def __init__(self, schedule, verbose: int = 0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                f"`schedule` must be callable. Received: schedule={schedule!r}"
            )
        self.schedule = schedule
        self.verbose = verbose
        # Decided once, from the signature: retrying on TypeError would hide
        # a TypeError raised inside a two-argument schedule.
        self._takes_rate = _takes_two_arguments(schedule)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = inner_optimizer(self.model.optimizer)
        current = float(ops.convert_to_numpy(optimizer.learning_rate))
        if self._takes_rate:
            rate = self.schedule(epoch, current)
        else:
            rate = self.schedule(epoch)
        set_learning_rate(optimizer, float(rate))
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: base learning rate {float(rate):g}.")


def _takes_two_arguments(schedule) -> bool:
    """Whether `schedule` takes `(epoch, lr)` (else `epoch` alone)."""
    try:
        parameters = inspect.signature(schedule).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature
        return False
    positional = [
        p
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    variadic = any(p.kind == p.VAR_POSITIONAL for p in parameters)
    if not positional and not variadic:
        raise TypeError(
            "`schedule` must take the epoch (and optionally the current "
            f"rate). Received: schedule={schedule!r} taking no arguments"
        )
    return variadic or len(positional) >= 2
