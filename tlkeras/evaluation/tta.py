"""Predictions with test-time augmentation (TTA)."""

from typing import Optional

import keras
import numpy as np
import tensorflow as tf

# Names `tta=` accepts, with the views each averages.
TTA = {None: ("identity",), "flip": ("identity", "horizontal flip")}


def check_tta(tta) -> None:
    """Raise a `ValueError` naming `tta` unless it is one of `TTA`."""
    if tta not in TTA:
        raise ValueError(
            f"`tta` must be one of {sorted(TTA, key=str)}. Received: "
            f"tta={tta!r}"
        )


def predict_batch(model: keras.Model, inputs, tta: Optional[str] = None):
    """`model`'s outputs on one batch, averaged over the views of `tta`
    (`"flip"`: the images and their mirror images, NHWC).

    Example:

    >>> model = keras.Sequential(
    ...     [keras.Input((2, 2, 1)), keras.layers.Flatten()])
    >>> x = np.arange(4, dtype="float32").reshape(1, 2, 2, 1)
    >>> predict_batch(model, x, "flip").tolist()
    [[0.5, 0.5, 2.5, 2.5]]
    """
    check_tta(tta)
    outputs = keras.ops.convert_to_numpy(model(inputs, training=False))
    if tta is None:
        return outputs
    if len(inputs.shape) != 4:
        raise ValueError(
            "tta='flip' mirrors images, inputs of shape (batch, height, "
            f"width, channels). Received inputs of shape {inputs.shape}."
        )
    flipped = tf.reverse(inputs, axis=[2])
    mirror = keras.ops.convert_to_numpy(model(flipped, training=False))
    return (outputs + mirror) / 2


def predict(
    model: keras.Model,
    data,
    *,
    tta: Optional[str] = None,
    batch_size: int = 32,
) -> np.ndarray:
    """`model.predict` with test-time augmentation: the outputs averaged
    over views of each input.

    `tta="flip"` averages each image's prediction with its mirror image's
    (one point of accuracy on the ants/bees photos: see the README's
    recipe table). The outputs are averaged as the model gives them:
    probabilities, or logits for a model built with `logits=True`.

    Args:
        model: a Keras model.
        data: input arrays, or a `tf.data.Dataset` of inputs or of
            `(inputs, labels)` batches.
        tta: `None` or `"flip"`. Defaults to `None`.
        batch_size: int, for arrays. Defaults to `32`.

    Returns:
        A NumPy array of outputs, one row per input.

    Example:

    >>> import numpy as np, tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "mobilenet_v2", 2, input_shape=(32, 32, 3), weights=None,
    ...     base_kwargs={"alpha": 0.35})
    >>> x = np.random.rand(4, 32, 32, 3).astype("float32") * 255
    >>> tlk.predict(model, x, tta="flip").shape
    (4, 2)
    """
    check_tta(tta)
    if not isinstance(data, tf.data.Dataset):
        data = tf.data.Dataset.from_tensor_slices(data).batch(batch_size)
    outputs = []
    for batch in data:
        inputs = batch[0] if isinstance(batch, tuple) else batch
        outputs.append(predict_batch(model, inputs, tta))
    if not outputs:
        raise ValueError("No batches in `data` to predict on.")
    return np.concatenate(outputs)
