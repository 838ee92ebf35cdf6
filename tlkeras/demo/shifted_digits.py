"""A domain shift to adapt to: digits as the source, the other half of
the digits with pixel noise as the (unlabelled) target."""

import keras
import numpy as np

from tlkeras.builders import build_classifier
from tlkeras.heads import MLP


def shifted_digits(noise: float = 0.3, seed: int = 0):
    """scikit-learn's 8x8 digits in [0, 1]: half as the labelled source,
    the other half with Gaussian pixel noise (clipped to [0, 1]) as the
    target domain, whose labels are for evaluation only.

    Returns:
        `((x_source, y_source), (x_target, y_target))`, images of shape
        `(8, 8, 1)`.

    Example:

    >>> (xs, ys), (xt, yt) = shifted_digits()
    >>> xs.shape[1:], len(xs) + len(xt)
    ((8, 8, 1), 1797)
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], digits.target[order]
    half = len(x) // 2
    jitter = np.random.default_rng(seed + 1).normal(0, noise, x[half:].shape)
    target = np.clip(x[half:] + jitter, 0, 1).astype("float32")
    return (x[:half], y[:half]), (target, y[half:])


def digits_classifier():
    """A small CNN (two conv-BN-ReLU blocks) with an MLP head for the
    shifted digits, as a `tlkeras.TransferModel` that trains whole.

    Example:

    >>> digits_classifier().output_shape
    (None, 10)
    """
    inputs = keras.Input((8, 8, 1))
    x = inputs
    for filters in (16, 32):
        x = keras.layers.Conv2D(filters, 3, padding="same")(x)
        x = keras.layers.BatchNormalization(momentum=0.9)(x)
        x = keras.layers.ReLU()(x)
    base = keras.Model(inputs, x, name="cnn")
    return build_classifier(
        base, 10, freeze="none", bn="train", head=MLP(units=(64,))
    )
