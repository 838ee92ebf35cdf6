"""The feature pass: one traced graph for every batch, equal to the eager
call, shared by a cache's passes."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import image_data
from tests.helpers import tiny_cnn
from tlkeras.cached import FeatureCache
from tlkeras.cached.features import forward_pass


def counting_extractor():
    """A base whose Python runs once per trace, or once per eager call."""
    calls = []

    def count(x):
        calls.append(1)
        return x

    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Lambda(count)(inputs)
    x = tiny_cnn()(x)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))
    calls.clear()
    return model, calls


def test_forward_pass_is_traced_once_for_every_batch_size():
    extractor, calls = counting_extractor()
    x, _ = image_data(n=10, size=16)
    forward = forward_pass(extractor)
    outputs = [forward(x[:4]), forward(x[4:9]), forward(x[9:])]
    uint8 = x.astype("uint8")
    cast = forward(uint8)  # integer images, cast as a Keras call casts them
    assert len(calls) == 1  # one trace; eagerly, one call per batch
    eager = extractor(x, training=False)
    np.testing.assert_allclose(
        np.concatenate(outputs), eager, rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        cast,
        extractor(uint8.astype("float32"), training=False),
        rtol=1e-5,
        atol=1e-5,
    )


def test_a_cache_traces_once_for_its_passes():
    extractor, calls = counting_extractor()
    (x, y), (xv, yv) = image_data(n=12, size=16), image_data(n=5, size=16)
    cache = FeatureCache()
    cache.get(extractor, x, y, batch_size=4, verbose=0)
    data = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(2)
    features, labels = cache.get(extractor, data, verbose=0)
    assert len(calls) == 1 and cache.computations == 2
    assert features.shape[0] == len(labels) == 5


def test_an_extractor_that_cannot_be_traced_runs_eagerly():
    # A layer that needs a known batch size cannot run with an open one.
    def needs_batch(x):
        if x.shape[0] is None:
            raise ValueError("the batch size must be known")
        return x

    inputs = keras.Input((3,))
    outputs = keras.layers.Lambda(needs_batch, output_shape=(3,))(inputs)
    extractor = keras.Model(inputs, outputs)
    forward = forward_pass(extractor)
    x = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(forward(x), x)
    with pytest.raises(ValueError, match="Input 0 .* incompatible"):
        forward(np.ones((2, 4), "float32"))  # the eager call's own error
    # Inputs of another structure (a dict by input name) go eagerly too.
    named = keras.Sequential(
        [keras.Input((3,), name="x"), keras.layers.Dense(2)]
    )
    forward = forward_pass(named)
    np.testing.assert_allclose(
        forward({"x": x}), named({"x": x}, training=False), rtol=1e-6
    )


def test_a_pass_per_extractor_does_not_warn_of_retracing(caplog):
    # Five folds of a target measurement: five extractors, five traces.
    x, _ = image_data(n=4, size=16)
    with caplog.at_level("WARNING", logger="tensorflow"):
        for _ in range(7):
            forward_pass(counting_extractor()[0])(x)
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]
