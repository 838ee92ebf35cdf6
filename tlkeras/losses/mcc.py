"""MCC: minimum class confusion (Jin et al. 2020)."""

import keras
from keras import ops


def mcc(logits, *, temperature: float = 2.5):
    """Minimum class confusion of a batch of (target) predictions.

    With `p = softmax(logits / T)`, each example weighted by
    `w = 1 + exp(-H(p))` (confident examples count more; normalized to
    sum to the batch size, no gradient), the class confusion
    `C = (p * w)^T p` is normalized per column (`C_jk / sum_j C_jk`, the
    paper's category normalization; TLlib's code does the same), and the
    loss is its off-diagonal mass over the number of classes:
    `(sum(C) - trace(C)) / num_classes`.

    Args:
        logits: `(batch, num_classes)` logits (log-probabilities work too:
            softmax ignores a per-example constant).
        temperature: float > 0, `T`. Defaults to `2.5` (the paper's).

    Example:

    >>> import numpy as np
    >>> sure = np.array([[9.0, 0, 0], [0, 9.0, 0]], "float32")
    >>> unsure = np.zeros((2, 3), "float32")
    >>> float(mcc(sure)) < float(mcc(unsure))
    True
    """
    if not temperature > 0:
        raise ValueError(
            f"`temperature` must be > 0. Received: temperature={temperature!r}"
        )
    logits = ops.cast(ops.convert_to_tensor(logits), "float32")
    p = ops.softmax(logits / temperature, axis=-1)
    entropy = -ops.sum(p * ops.log(p + 1e-5), axis=-1)
    w = 1.0 + ops.exp(-entropy)
    batch = ops.cast(ops.shape(p)[0], "float32")
    w = ops.stop_gradient(batch * w / ops.sum(w))
    confusion = ops.matmul(ops.transpose(p * w[:, None]), p)
    confusion = confusion / ops.sum(confusion, axis=0, keepdims=True)
    classes = ops.cast(ops.shape(p)[1], "float32")
    return (ops.sum(confusion) - ops.trace(confusion)) / classes


@keras.saving.register_keras_serializable(package="tlkeras")
class MCC(keras.losses.Loss):
    """`mcc` as a Keras loss on target logits: `MCC()(None, logits)`
    (`y_true` is not used: the target has no labels).

    Args:
        temperature: float > 0. Defaults to `2.5`.

    Example:

    >>> import numpy as np
    >>> float(MCC()(None, np.zeros((4, 3), "float32"))) > 0
    True
    """

    def __init__(self, temperature: float = 2.5, name: str = "mcc", **kwargs):
        super().__init__(name=name, **kwargs)
        mcc(ops.zeros((2, 2)), temperature=temperature)
        self.temperature = float(temperature)

    def __call__(self, y_true, y_pred, sample_weight=None):
        # No labels: Keras would try to convert `None` to a tensor.
        y_true = y_pred if y_true is None else y_true
        return super().__call__(y_true, y_pred, sample_weight=sample_weight)

    def call(self, y_true, y_pred):
        return mcc(y_pred, temperature=self.temperature)

    def get_config(self):
        config = super().get_config()
        config["temperature"] = self.temperature
        return config
