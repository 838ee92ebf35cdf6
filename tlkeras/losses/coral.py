"""CORAL: correlation alignment (Sun & Saenko 2016)."""

import keras
from keras import ops


def coral(source, target):
    """`||C_s - C_t||_F^2 / (4 d^2)`: the distance between the feature
    covariances of two batches (`1/(n-1)` covariances, `d` features), the
    paper's Deep CORAL loss. (TLlib's code uses the mean squared
    difference of means and covariances instead, though its docstring
    gives this formula.)

    Args:
        source: a batch of features, `(batch, d)` (flattened if more).
        target: another batch; sizes may differ.

    Example:

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    >>> float(coral(x, x))
    0.0
    """
    s = _flat(source)
    t = _flat(target)
    d = ops.cast(ops.shape(s)[1], "float32")
    difference = _covariance(s) - _covariance(t)
    return ops.sum(ops.square(difference)) / (4.0 * d * d)


def _flat(x):
    x = ops.cast(ops.convert_to_tensor(x), "float32")
    return ops.reshape(x, (ops.shape(x)[0], -1))


def _covariance(x):
    n = ops.cast(ops.shape(x)[0], "float32")
    centred = x - ops.mean(x, axis=0, keepdims=True)
    return ops.matmul(ops.transpose(centred), centred) / (n - 1.0)


@keras.saving.register_keras_serializable(package="tlkeras")
class CORAL(keras.losses.Loss):
    """`coral` as a Keras loss: `CORAL()(source_features, target_features)`.

    Example:

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    >>> float(CORAL()(x, 3.0 * x)) > 0
    True
    """

    def __init__(self, name: str = "coral", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        return coral(y_true, y_pred)
