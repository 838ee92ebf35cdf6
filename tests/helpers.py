"""Helpers shared by the tests: value snapshots and tiny models/data."""

import gc

import keras
import numpy as np


def values(variables):
    """Copies of the values of `variables`, for bit-exact comparisons."""
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


def assert_all_equal(before, after):
    assert len(before) == len(after)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


def assert_all_changed(before, after):
    assert len(before) == len(after)
    for a, b in zip(before, after):
        assert not np.array_equal(a, b)


def tiny_cnn(name="cnn"):
    """A small conv base with BatchNormalization, 16x16x3 inputs."""
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv_a")(inputs)
    x = keras.layers.BatchNormalization(name="bn_a")(x)
    x = keras.layers.ReLU(name="relu_a")(x)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", name="conv_b")(x)
    x = keras.layers.BatchNormalization(name="bn_b")(x)
    x = keras.layers.ReLU(name="relu_b")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv_c")(x)
    x = keras.layers.BatchNormalization(name="bn_c")(x)
    x = keras.layers.ReLU(name="relu_c")(x)
    return keras.Model(inputs, x, name=name)


def image_data(n=32, size=16, num_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 255, (n, size, size, 3)).astype("float32")
    y = rng.integers(0, num_classes, n)
    return x, y


class Interrupt(keras.callbacks.Callback):
    """Raises at the end of epoch `epoch`, as Keras's own resume tests do."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("interrupted")


def graphs_left_by(train, repeats=3):
    """How many traced graphs (`FuncGraph`s) `repeats` calls of `train`
    leave alive, after one call to warm up: 0 when each call's traces are
    freed with its model."""

    def live():
        gc.collect()
        return sum(type(o).__name__ == "FuncGraph" for o in gc.get_objects())

    train()
    before = live()
    for _ in range(repeats):
        train()
    return live() - before
