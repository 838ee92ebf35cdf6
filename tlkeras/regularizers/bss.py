"""BSS: batch spectral shrinkage (Chen et al. 2019, "Catastrophic
Forgetting Meets Negative Transfer: Batch Spectral Shrinkage for Safe
Transfer Learning")."""

import keras
from keras import ops

from tlkeras.regularizers.l2sp import check_weight


@keras.saving.register_keras_serializable(package="tlkeras")
class BSS(keras.layers.Layer):
    """Batch spectral shrinkage: `weight * sum of the k smallest squared
    singular values` of each training batch's feature matrix (batch x
    features: what the head sees, pooled), added to the training loss.

    Small singular directions of the features carry what does not transfer;
    shrinking them suppresses negative transfer on small data. TLlib's
    defaults (`BatchSpectralShrinkage`): `k = 1`, `weight = 0.001`.

    Give it to a builder, alone or with `L2SP`:
    `build_classifier(..., regularization=[L2SP(), BSS()])`. It applies in
    training only, also to cached-feature training of the head.

    Args:
        k: int >= 1, how many of the smallest singular values. Defaults to
            `1`.
        weight: float >= 0. Defaults to `0.001`.

    Example:

    >>> import numpy as np
    >>> bss = BSS(k=1, weight=1.0)
    >>> features = np.diag([3.0, 2.0, 0.5]).astype("float32")
    >>> round(float(bss.shrinkage(features)), 4)  # 0.5 ** 2
    0.25
    """

    def __init__(self, k: int = 1, weight: float = 0.001, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"`k` must be an int >= 1. Received: k={k!r}")
        check_weight("weight", weight)
        self.k = k
        self.weight = float(weight)

    def attach(self, model: keras.Model) -> None:
        """Have `model`'s head add the shrinkage of its features to the
        training loss (the builders call this)."""
        model.head.penalize_features(self.shrinkage)
        self.built = True

    def shrinkage(self, features):
        """`weight * sum(s[-k:] ** 2)`, `s` the singular values of the
        batch's features (flattened to batch x features)."""
        x = ops.reshape(features, (ops.shape(features)[0], -1))
        x = ops.cast(x, "float32")
        values = ops.svd(x, compute_uv=False)
        return self.weight * ops.sum(ops.square(values[-self.k :]))

    def penalty(self, model: keras.Model):
        """Nothing at the model level: the head adds the shrinkage."""
        return ops.zeros(())

    def call(self, inputs):  # pragma: no cover - not a layer of the graph
        return inputs

    def get_config(self):
        return {**super().get_config(), "k": self.k, "weight": self.weight}
