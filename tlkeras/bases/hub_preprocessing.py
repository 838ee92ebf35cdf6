"""`HubImagePreprocessing`: pixels in [0, 255] to what TF-Hub image
modules take (float32 in [0, 1], at the module's size when it is fixed)."""

from typing import Optional
from typing import Tuple

import keras


@keras.saving.register_keras_serializable(package="tlkeras")
class HubImagePreprocessing(keras.layers.Layer):
    """Scale pixels to [0, 1] (the TF-Hub image convention) and resize them
    to the module's fixed size, if it has one.

    Args:
        size: `(height, width)` or `None`, resize to this size (bilinear).
            Defaults to `None` (keep the size).

    Example:

    >>> layer = HubImagePreprocessing(size=(4, 4))
    >>> layer(keras.ops.full((1, 2, 2, 3), 255.0)).shape
    TensorShape([1, 4, 4, 3])
    """

    def __init__(self, size: Optional[Tuple[int, int]] = None, **kwargs):
        super().__init__(**kwargs)
        self.size = None if size is None else tuple(int(s) for s in size)

    def call(self, inputs):
        x = keras.ops.cast(inputs, self.compute_dtype) / 255.0
        if self.size is not None:
            x = keras.ops.image.resize(x, self.size, interpolation="bilinear")
        return x

    def compute_output_shape(self, input_shape):
        if self.size is None:
            return tuple(input_shape)
        return (input_shape[0], *self.size, input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config["size"] = None if self.size is None else list(self.size)
        return config
