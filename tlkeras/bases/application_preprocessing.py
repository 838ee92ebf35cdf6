"""A layer that runs a `keras.applications` family's `preprocess_input`."""

import importlib

import keras


def preprocess_function(family: str):
    """The `preprocess_input` function of `keras.applications.<family>`."""
    module = importlib.import_module(f"keras.applications.{family}")
    return module.preprocess_input


@keras.saving.register_keras_serializable(package="tlkeras")
class ApplicationPreprocessing(keras.layers.Layer):
    """Maps raw pixels in [0, 255] to what a `keras.applications` base expects.

    It calls the family's own `preprocess_input` (e.g.
    `keras.applications.resnet.preprocess_input`), so the scaling is exactly
    Keras's: `[-1, 1]` for MobileNet and Inception, BGR with the ImageNet mean
    removed for ResNet and VGG, mean/std normalisation for DenseNet. The
    builders put it in front of the base, so the model takes raw images and
    the preprocessing travels with it when saved or exported.

    Args:
        family: string, the `keras.applications` module name, e.g.
            `"mobilenet_v2"` or `"resnet"`.

    Example:

    >>> layer = ApplicationPreprocessing("mobilenet_v2")
    >>> float(layer(keras.ops.full((1, 2, 2, 3), 255.0))[0, 0, 0, 0])
    1.0
    """

    def __init__(self, family: str, **kwargs):
        super().__init__(**kwargs)
        try:
            self._fn = preprocess_function(family)
        except ModuleNotFoundError:
            raise ValueError(
                "`family` must name a keras.applications module such as "
                f"'mobilenet_v2' or 'resnet'. Received: family={family!r}"
            ) from None
        self.family = family

    def call(self, inputs):
        return self._fn(keras.ops.cast(inputs, self.compute_dtype))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"family": self.family})
        return config
