"""Multi-kernel maximum mean discrepancy (DAN, Long et al. 2015)."""

from typing import Sequence

import keras
from keras import ops

# TLlib's DAN: five Gaussian kernels, bandwidths 2^-3 ... 2^1 times the
# batch's mean squared distance.
KERNEL_SCALES = (0.125, 0.25, 0.5, 1.0, 2.0)
ESTIMATORS = ("linear", "quadratic")


def mmd(
    source,
    target,
    *,
    estimator: str = "linear",
    kernel_scales: Sequence[float] = KERNEL_SCALES,
):
    """The squared MMD between two batches of features, with a sum of
    Gaussian kernels `exp(-d^2 / (2 s m))`, `m` the mean squared distance
    between all points of both (cut) batches (no gradient through it) and `s`
    each of `kernel_scales`.

    Both estimators pair `s_i` with `t_i` (the larger batch is cut to the
    smaller) and average `h(i, j) = k(s_i, s_j) + k(t_i, t_j) - k(s_i, t_j)
    - k(s_j, t_i)`: `"linear"` over consecutive pairs `j = i + 1` (linear
    time; TLlib's default), `"quadratic"` over all pairs `i != j`
    (Gretton et al. 2012's U-statistic). Identical batches give exactly 0.
    Both are unbiased, so a batch can give a value below zero: that is
    normal (the expectation, MMD^2, is >= 0).

    Args:
        source: a batch of features, `(batch, ...)`.
        target: another batch, with the same feature shape.
        estimator: `"linear"` or `"quadratic"`. Defaults to `"linear"`.
        kernel_scales: the kernels' bandwidth multipliers. Defaults to
            `(1/8, 1/4, 1/2, 1, 2)`.

    Example:

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(64, 8)).astype("float32")
    >>> float(mmd(x, x + 2.0)) > float(mmd(x[:32], x[32:]))
    True
    """
    if estimator not in ESTIMATORS:
        raise ValueError(
            f"`estimator` must be one of {ESTIMATORS}. Received: "
            f"estimator={estimator!r}"
        )
    s = _flat(source)
    t = _flat(target)
    size = ops.minimum(ops.shape(s)[0], ops.shape(t)[0])
    s, t = s[:size], t[:size]
    joint = ops.concatenate([s, t], axis=0)
    bandwidth = ops.stop_gradient(ops.mean(_pairwise(joint, joint)))
    bandwidth = ops.maximum(bandwidth, 1e-12)
    scales = [float(x) for x in kernel_scales]

    def kernel(d2):
        return sum(ops.exp(-d2 / (2.0 * a * bandwidth)) for a in scales)

    if estimator == "quadratic":
        # Gretton et al.'s U-statistic over all pairs i != j of the paired
        # samples (s_i, t_i): sum of h(i, j) / (n (n - 1)).
        n = ops.cast(size, "float32")
        h = (
            kernel(_pairwise(s, s))
            + kernel(_pairwise(t, t))
            - kernel(_pairwise(s, t))
            - kernel(_pairwise(t, s))
        )
        return (ops.sum(h) - ops.trace(h)) / (n * (n - 1.0))
    s2, t2 = ops.roll(s, -1, axis=0), ops.roll(t, -1, axis=0)

    def k(a, b):
        return kernel(ops.sum(ops.square(a - b), axis=-1))

    return ops.mean(k(s, s2) + k(t, t2) - k(s, t2) - k(s2, t))


def _flat(x):
    x = ops.cast(ops.convert_to_tensor(x), "float32")
    return ops.reshape(x, (ops.shape(x)[0], -1))


def _pairwise(a, b):
    """Squared Euclidean distances between the rows of `a` and `b`."""
    a2 = ops.sum(ops.square(a), axis=-1, keepdims=True)
    b2 = ops.sum(ops.square(b), axis=-1, keepdims=True)
    return ops.maximum(
        a2 - 2.0 * ops.matmul(a, ops.transpose(b)) + ops.transpose(b2), 0.0
    )


@keras.saving.register_keras_serializable(package="tlkeras")
class MMD(keras.losses.Loss):
    """`mmd` as a Keras loss: `MMD()(source_features, target_features)`,
    e.g. in a custom `compute_loss` or with `model.add_loss`.

    Args:
        estimator: `"linear"` or `"quadratic"`. Defaults to `"linear"`.
        kernel_scales: the kernels' bandwidth multipliers. Defaults to
            `(1/8, 1/4, 1/2, 1, 2)`.

    Example:

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    >>> float(MMD(estimator="quadratic")(x, x + 1.0)) > 0
    True
    """

    def __init__(
        self,
        estimator: str = "linear",
        kernel_scales: Sequence[float] = KERNEL_SCALES,
        name: str = "mmd",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        mmd(ops.zeros((2, 1)), ops.zeros((2, 1)), estimator=estimator)
        self.estimator = estimator
        self.kernel_scales = tuple(float(x) for x in kernel_scales)

    def call(self, y_true, y_pred):
        return mmd(
            y_true,
            y_pred,
            estimator=self.estimator,
            kernel_scales=self.kernel_scales,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            estimator=self.estimator, kernel_scales=list(self.kernel_scales)
        )
        return config
