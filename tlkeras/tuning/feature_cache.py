"""Frozen-base features computed once and reused: by the hypermodel's
frozen-base trials and by `rank_bases`."""

from typing import Tuple

import keras
import numpy as np
import tensorflow as tf


def batches(x, y=None, batch_size: int = 32):
    """`(inputs, labels)` batches from a dataset of pairs or from arrays."""
    if isinstance(x, tf.data.Dataset):
        if y is not None:
            raise ValueError(
                "Pass labels inside the dataset, not as `y`, when `x` is a "
                "tf.data.Dataset."
            )
        return x
    if y is None:
        raise ValueError("Array inputs need labels `y`.")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


def compute_features(
    extractor: keras.Model, data, *, verbose: int = 1, label: str = ""
) -> Tuple[np.ndarray, np.ndarray]:
    """Features and labels of every batch of `data`, in one pass (so a
    dataset that reshuffles keeps inputs and labels together), with a Keras
    progress bar."""
    steps = None
    if isinstance(data, tf.data.Dataset):
        cardinality = int(data.cardinality())
        steps = cardinality if cardinality > 0 else None
    progress = keras.utils.Progbar(steps, verbose=verbose, unit_name="batch")
    features, labels = [], []
    for step, batch in enumerate(data):
        x, y = batch[0], batch[1]
        features.append(
            keras.ops.convert_to_numpy(extractor(x, training=False))
        )
        labels.append(np.asarray(y))
        progress.update(step + 1)
    if not features:
        raise ValueError(f"No batches to compute {label} features from.")
    return np.concatenate(features), np.concatenate(labels)
