"""Learning-rate schedules for fine-tuning: one-cycle, warm-up cosine."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tlkeras")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """fastai's one-cycle schedule (`fit_one_cycle`).

    Cosine warm-up from `max_lr / div` to `max_lr` over the first
    `pct_start` of the steps, then cosine annealing down to
    `max_lr / div_final` (fastai `fit_one_cycle` defaults: `div=25`,
    `div_final=1e5`, `pct_start=0.25`).

    Args:
        max_lr: float, the peak rate.
        total_steps: int, the number of training steps.
        pct_start: float in (0, 1), the warm-up share. Defaults to `0.25`.
        div: float, `max_lr / div` is the starting rate. Defaults to `25`.
        div_final: float, `max_lr / div_final` is the final rate. Defaults
            to `1e5`.

    Example:

    >>> schedule = OneCycle(1e-3, total_steps=100)
    >>> round(float(schedule(25)), 6)
    0.001
    """

    def __init__(
        self, max_lr, total_steps, pct_start=0.25, div=25.0, div_final=1e5
    ):
        if not 0 < pct_start < 1:
            raise ValueError(
                f"`pct_start` must be in (0, 1). Received: pct_start="
                f"{pct_start!r}"
            )
        if total_steps < 2:
            raise ValueError(
                f"`total_steps` must be >= 2. Received: total_steps="
                f"{total_steps!r}"
            )
        self.max_lr = float(max_lr)
        self.total_steps = int(total_steps)
        self.pct_start = float(pct_start)
        self.div = float(div)
        self.div_final = float(div_final)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warm = max(1.0, self.pct_start * self.total_steps)
        rest = max(1.0, self.total_steps - warm)
        low, high = self.max_lr / self.div, self.max_lr
        final = self.max_lr / self.div_final
        up = ops.minimum(step / warm, 1.0)
        down = ops.clip((step - warm) / rest, 0.0, 1.0)
        rising = low + (high - low) * (1 - ops.cos(math.pi * up)) / 2
        falling = high + (final - high) * (1 - ops.cos(math.pi * down)) / 2
        return ops.where(step < warm, rising, falling)

    def get_config(self):
        return {
            "max_lr": self.max_lr,
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "div": self.div,
            "div_final": self.div_final,
        }


def warmup_cosine(
    lr: float, total_steps: int, warmup_steps: int, final_fraction: float = 0.0
):
    """Linear warm-up from 0 to `lr`, then cosine decay (Keras's own).

    Returns a `keras.optimizers.schedules.CosineDecay`.

    Example:

    >>> schedule = warmup_cosine(1e-3, total_steps=100, warmup_steps=10)
    >>> round(float(schedule(10)), 6)
    0.001
    """
    if not 0 <= warmup_steps < total_steps:
        raise ValueError(
            "`warmup_steps` must be in [0, total_steps). Received: "
            f"warmup_steps={warmup_steps!r}, total_steps={total_steps!r}"
        )
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup_steps else lr,
        decay_steps=total_steps - warmup_steps,
        alpha=final_fraction,
        warmup_target=lr if warmup_steps else None,
        warmup_steps=warmup_steps,
    )
