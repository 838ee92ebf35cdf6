"""Gradient reversal (Ganin & Lempitsky 2015) and Ganin's ramp."""

import keras
from keras import ops


def gradient_reversal(x, coefficient):
    """`x` forward (exactly); the gradient times `-coefficient` backward.

    Written as `stop_gradient(x) + (r - stop_gradient(r))` with
    `r = -coefficient * x`: the bracket is exactly zero forward and carries
    `r`'s gradient backward, so no custom gradient is needed and any
    backend can differentiate it.

    Example:

    >>> import tensorflow as tf
    >>> x = tf.constant([1.0, -2.0])
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = gradient_reversal(x, 0.5)
    >>> y.numpy().tolist(), tape.gradient(y, x).numpy().tolist()
    ([1.0, -2.0], [-0.5, -0.5])
    """
    coefficient = ops.stop_gradient(ops.cast(coefficient, x.dtype))
    reversed_ = -coefficient * x
    return ops.stop_gradient(x) + (reversed_ - ops.stop_gradient(reversed_))


def ganin_ramp(progress, gamma: float = 10.0):
    """Ganin's schedule: `2 / (1 + exp(-gamma p)) - 1` with `p` the
    training progress clipped to [0, 1]: 0 at the start, about 1 at the
    end.

    Example:

    >>> round(float(ganin_ramp(0.0)), 6), round(float(ganin_ramp(1.0)), 4)
    (0.0, 0.9999)
    """
    p = ops.clip(ops.cast(progress, "float32"), 0.0, 1.0)
    return 2.0 / (1.0 + ops.exp(-gamma * p)) - 1.0


@keras.saving.register_keras_serializable(package="tlkeras")
class GradientReversal(keras.layers.Layer):
    """The identity forward; the gradient times `-coefficient` backward.

    Args:
        coefficient: float, lambda. Defaults to `1.0`.

    Example:

    >>> layer = GradientReversal(coefficient=0.3)
    >>> layer(keras.ops.ones((2,))).numpy().tolist()
    [1.0, 1.0]
    """

    def __init__(self, coefficient: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.coefficient = float(coefficient)

    def call(self, inputs):
        return gradient_reversal(inputs, self.coefficient)

    def get_config(self):
        config = super().get_config()
        config["coefficient"] = self.coefficient
        return config
