"""The real TF-Hub module in the shared assets (MobileNetV3-Small 0.75
feature vector, TF2 SavedModel): groups, features, fine-tuning, saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tlkeras as tlk
from tests.helpers import assert_all_changed
from tests.helpers import assert_all_equal
from tests.helpers import values

MODULE = "hub/mobilenet_v3_small_075_224_feature_vector"
BLOCKS = (
    ["Conv", "expanded_conv"]
    + [f"expanded_conv_{i}" for i in range(1, 11)]
    + ["Conv_1", "Conv_2"]
)


@pytest.fixture(scope="module")
def handle(assets):
    path = assets / MODULE
    if not (path / "saved_model.pb").is_file():
        pytest.skip(f"asset missing: {path}")
    return str(path)


@pytest.fixture(scope="module")
def photos():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (8, 224, 224, 3)).astype("float32")
    return x, np.arange(8) % 2


def test_groups_follow_the_modules_blocks(handle):
    model = tlk.build_classifier(
        f"hub:{handle}", num_classes=2, input_shape=(96, 96, 3)
    )
    assert [g.name for g in tlk.layer_groups(model)] == BLOCKS + ["head"]
    # Fixed-size module: 96 px inputs are resized to its 224 inside.
    assert model.input_shape == (None, 96, 96, 3)
    assert model.base.input_shape == (None, 224, 224, 3)
    assert model.output_shape == (None, 2)


def test_features_equal_the_module_on_scaled_pixels(handle, photos):
    model = tlk.build_feature_extractor(f"hub:{handle}")
    module = tf.saved_model.load(handle)
    x = photos[0][:2]
    np.testing.assert_allclose(
        model.predict(x, verbose=0),
        module(tf.constant(x / 255.0, tf.float32), training=False),
        rtol=1e-4,
        atol=1e-5,
    )


def test_fine_tuning_top_blocks_keeps_the_rest(handle, photos, tmp_path):
    model = tlk.build_classifier(
        f"hub:{handle}", num_classes=2, input_shape=(224, 224, 3), freeze=2
    )
    groups = tlk.layer_groups(model)
    hub = model.base.get_layer("hub")
    lower_vars = [v for g in groups[:-3] for v in g.variables]
    top_vars = [v for g in groups[-3:-1] for v in g.trainable_variables]
    lower, top = values(lower_vars), values(top_vars)
    statistics = values(hub.non_trainable_weights)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(*photos, batch_size=4, epochs=1, verbose=0)
    assert_all_equal(lower, values(lower_vars))
    assert_all_changed(top, values(top_vars))
    assert_all_equal(statistics, values(hub.non_trainable_weights))

    path = str(tmp_path / "hub.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        loaded.predict(photos[0][:2], verbose=0),
        model.predict(photos[0][:2], verbose=0),
    )
