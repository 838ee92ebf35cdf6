"""A `LearningRateScheduler` that keeps per-group spreads."""

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

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = inner_optimizer(self.model.optimizer)
        current = float(ops.convert_to_numpy(optimizer.learning_rate))
        try:
            rate = self.schedule(epoch, current)
        except TypeError:
            rate = self.schedule(epoch)
        set_learning_rate(optimizer, float(rate))
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: base learning rate {float(rate):g}.")
