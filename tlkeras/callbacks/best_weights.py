"""`BestWeights`: remember the best epoch's weights across several fits."""

from typing import Optional

import keras
import numpy as np


class BestWeights(keras.callbacks.Callback):
    """Keeps the weights of the best epoch seen, across every `fit` it is
    passed to (a two-stage recipe's stages included), to put back at the
    end: what `EarlyStopping(restore_best_weights=True)` does for one `fit`.

    Args:
        monitor: the log to watch. Defaults to `"val_loss"`.
        mode: `"min"` or `"max"`. Defaults to `"min"`.

    Example:

    >>> best = BestWeights()
    >>> # model.fit(..., callbacks=[best]); best.restore()
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "min"):
        super().__init__()
        if mode not in ("min", "max"):
            raise ValueError(
                f"`mode` must be 'min' or 'max'. Received: mode={mode!r}"
            )
        self.monitor = monitor
        self.mode = mode
        self.best: Optional[float] = None
        self.best_epoch: Optional[int] = None
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise ValueError(
                f"BestWeights watches {self.monitor!r}, which is not in the "
                f"logs: {sorted(logs or {})}. Pass validation data, or "
                "another `monitor`."
            )
        value = float(value)
        better = self.best is None or (
            value < self.best if self.mode == "min" else value > self.best
        )
        if better and np.isfinite(value):
            self.best, self.best_epoch = value, epoch
            self.best_weights = self.model.get_weights()

    def restore(self) -> Optional[int]:
        """Put the best epoch's weights back; return that epoch (0-based),
        or `None` when no epoch was seen."""
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)
        return self.best_epoch
