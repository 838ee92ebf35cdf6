"""Augmentation presets built from Keras preprocessing layers."""

import keras

PRESETS = {
    "light": dict(flip="horizontal", rotation=0.05, zoom=0.1, contrast=0.1),
    "standard": dict(flip="horizontal", rotation=0.1, zoom=0.2, contrast=0.2),
}


def augmentation_layers(augment, seed=None):
    """A `keras.Sequential` of random flip, rotation, zoom and contrast.

    Args:
        augment: `None`, a preset name (`"light"`, `"standard"`), or a Keras
            layer (returned as it is).
        seed: int or `None`, for the random layers.

    Returns:
        A layer to call with `training=True`, or `None`.

    Example:

    >>> layer = augmentation_layers("light")
    >>> [type(l).__name__ for l in layer.layers]
    ['RandomFlip', 'RandomRotation', 'RandomZoom', 'RandomContrast']
    """
    if augment is None or isinstance(augment, keras.layers.Layer):
        return augment
    if augment not in PRESETS:
        raise ValueError(
            f"`augment` must be None, a Keras layer or one of "
            f"{sorted(PRESETS)}. Received: augment={augment!r}"
        )
    p = PRESETS[augment]
    return keras.Sequential(
        [
            keras.layers.RandomFlip(p["flip"], seed=seed),
            keras.layers.RandomRotation(p["rotation"], seed=seed),
            keras.layers.RandomZoom(p["zoom"], seed=seed),
            # RandomContrast expects [0, 255] values here.
            keras.layers.RandomContrast(
                p["contrast"], value_range=(0, 255), seed=seed
            ),
        ],
        name=f"augment_{augment}",
    )
