import keras
import numpy as np
import pytest

import tlkeras as tlk
from tests.helpers import image_data
from tests.helpers import tiny_cnn


@pytest.fixture(scope="module")
def classifier():
    keras.utils.set_random_seed(0)
    model = tlk.build_classifier(
        "mobilenet_v2",
        5,
        input_shape=(32, 32, 3),
        weights=None,
        base_kwargs={"alpha": 0.35},
        head=tlk.heads.MLP(units=(16,), dropout=0.3, l2=1e-4),
        freeze=2,
        bn="frozen",  # as for pretrained weights (random ones default to train)
    )
    x, y = image_data(n=16, size=32, num_classes=5)
    model.compile()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    return model


def test_the_model_is_a_transfer_model(classifier):
    assert isinstance(classifier, tlk.TransferModel)
    assert isinstance(classifier, keras.Model)
    assert classifier.base.name.startswith("mobilenetv2")
    assert classifier.head.name == "head"
    assert classifier.output_shape == (None, 5)
    assert classifier.base_name == "MobileNetV2"


def test_keras_round_trip_keeps_predictions_groups_and_flags(
    classifier, tmp_path
):
    path = tmp_path / "model.keras"
    classifier.save(path)
    loaded = keras.saving.load_model(path)  # safe_mode, no custom objects
    assert type(loaded) is tlk.TransferModel
    x, _ = image_data(n=4, size=32)
    np.testing.assert_array_equal(
        classifier.predict(x, verbose=0), loaded.predict(x, verbose=0)
    )
    groups = tlk.layer_groups(classifier)
    loaded_groups = tlk.layer_groups(loaded)
    assert [g.name for g in loaded_groups] == [g.name for g in groups]
    assert (
        [g.trainable for g in loaded_groups]
        == [g.trainable for g in groups]
        == [False] * 4 + [True] * 3
    )
    assert [len(g.trainable_variables) for g in loaded_groups] == [
        len(g.trainable_variables) for g in groups
    ]
    assert loaded.bn == "frozen" and loaded.task == "multiclass"
    bn = [
        layer
        for layer in loaded.base.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert bn and not any(layer.trainable for layer in bn)
    # The optimizer state came back too, and training goes on.
    assert int(loaded.optimizer.iterations) == 2
    x, y = image_data(n=8, size=32, num_classes=5)
    loaded.fit(x, y, verbose=0)


def test_config_round_trip(classifier):
    config = classifier.get_config()
    clone = tlk.TransferModel.from_config(config)
    assert clone.get_config() == config


def test_compile_defaults_follow_the_task():
    x, _ = image_data(n=8, size=16)
    cases = [
        (
            tlk.build_classifier(tiny_cnn(), 3),
            "SparseCategoricalCrossentropy",
            np.array([0, 1, 2, 0, 1, 2, 0, 1]),
        ),
        (
            tlk.build_classifier(tiny_cnn(), 1),
            "BinaryCrossentropy",
            np.array([0, 1, 0, 1, 0, 1, 0, 1]),
        ),
        (
            tlk.build_classifier(tiny_cnn(), 3, multi_label=True),
            "BinaryCrossentropy",
            np.eye(3)[[0, 1, 2, 0, 1, 2, 0, 1]],
        ),
        (
            tlk.build_regressor(tiny_cnn(), 2),
            "MeanSquaredError",
            np.ones((8, 2)),
        ),
    ]
    for model, loss_name, y in cases:
        model.compile()
        assert type(model.loss).__name__ == loss_name
        history = model.fit(x, y, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])


def test_output_activations_and_logits():
    x, _ = image_data(n=4, size=16)
    probs = tlk.build_classifier(tiny_cnn(), 3).predict(x, verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    multi = tlk.build_classifier(tiny_cnn(), 3, multi_label=True)
    out = multi.predict(x, verbose=0)
    assert out.min() >= 0 and out.max() <= 1
    assert not np.allclose(out.sum(axis=1), 1.0)
    logits_model = tlk.build_classifier(tiny_cnn(), 3, logits=True)
    assert logits_model.head.output_activation is None
    logits_model.compile()
    assert logits_model.loss.get_config()["from_logits"] is True


def test_regressor_outputs_are_linear():
    model = tlk.build_regressor(tiny_cnn(), 1)
    assert model.head.output_activation is None
    assert model.output_shape == (None, 1)


def test_feature_extractor_is_fully_frozen():
    model = tlk.build_feature_extractor(tiny_cnn(), pooling="max")
    assert model.trainable_variables == []
    assert model.output_shape == (None, 8)
    x, _ = image_data(n=2, size=16)
    features = model.predict(x, verbose=0)
    expected = model.base.predict(x, verbose=0).max(axis=(1, 2))
    np.testing.assert_allclose(features, expected, rtol=1e-6)


def test_non_image_base_needs_no_pooling():
    base = keras.Sequential(
        [
            keras.Input((10,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(8, activation="relu"),
        ],
        name="mlp",
    )
    model = tlk.build_classifier(base, 2, freeze="none")
    assert model.head.pool is None
    assert model.input_shape == (None, 10)
    x = np.random.default_rng(0).normal(size=(64, 10)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(x, y, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_builder_argument_errors():
    with pytest.raises(ValueError, match="num_classes=0"):
        tlk.build_classifier(tiny_cnn(), 0)
    with pytest.raises(ValueError, match="num_outputs=0"):
        tlk.build_regressor(tiny_cnn(), 0)
    with pytest.raises(ValueError, match="Received: head='deep'"):
        tlk.build_classifier(tiny_cnn(), 2, head="deep")
    with pytest.raises(
        ValueError, match="num_outputs=4, but the model needs 2"
    ):
        tlk.build_classifier(
            tiny_cnn(), 2, head=tlk.heads.Linear(num_outputs=4)
        )
    with pytest.raises(ValueError, match="Received: task='ranking'"):
        tlk.TransferModel(tiny_cnn(), tlk.heads.Linear(), task="ranking")


@pytest.mark.assets
def test_quick_start_with_real_weights(mobilenet_v2_weights):
    model = tlk.build_classifier(
        "mobilenet_v2",
        num_classes=5,
        input_shape=(96, 96, 3),
        weights=mobilenet_v2_weights,
        base_kwargs={"alpha": 0.35},
        head=tlk.heads.MLP(units=(128,), dropout=0.3),
        freeze="base",
    )
    groups = tlk.layer_groups(model)
    assert [g.name for g in groups] == [
        "stem",
        "stage1",
        "stage2",
        "stage3",
        "stage4",
        "top",
        "head",
    ]
    assert [len(g.trainable_variables) for g in groups] == [0] * 6 + [4]
    table = tlk.summary(model, print_fn=lambda s: None)
    assert "164,613" in table and "410,208" in table


def test_bn_policy_follows_the_weights():
    """From random weights, the defaults train the whole base: frozen BN at
    its initial statistics would keep every base weight where it is."""
    keras.utils.set_random_seed(2)
    model = tlk.build_classifier(
        "mobilenet_v2",
        3,
        input_shape=(32, 32, 3),
        weights=None,
        base_kwargs={"alpha": 0.35},
        freeze="none",
    )
    assert model.bn == "train"
    convs = [
        layer.kernel
        for layer in model.base.layers
        if isinstance(layer, keras.layers.Conv2D)
    ]
    before = [np.array(k) for k in convs]
    x, y = image_data(n=16, size=32, num_classes=3)
    model.compile()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    moved = [not np.array_equal(b, np.array(k)) for b, k in zip(before, convs)]
    assert all(moved)
    # Pretrained weights (a file, or "imagenet") keep BN frozen by default;
    # a keras.Model base is taken to be pretrained.
    assert tlk.builders.build.default_bn("mobilenet_v2", "w.h5") == "frozen"
    assert tlk.build_classifier(tiny_cnn(), 3).bn == "frozen"


def test_flags_for_another_layer_count_warn_and_count():
    model = tlk.build_classifier(tiny_cnn(), 3, freeze="none")
    store = {}
    model.save_own_variables(store)
    flags = store["tlkeras_trainable_flags"]
    before = [layer.trainable for layer in model._flatten_layers()]
    store["tlkeras_trainable_flags"] = np.zeros(len(flags) - 1, "uint8")
    with pytest.warns(UserWarning, match=rf"for {len(flags) - 1} layers but"):
        model.load_own_variables(store)
    assert [layer.trainable for layer in model._flatten_layers()] == before
    # The matching count restores the flags silently.
    store["tlkeras_trainable_flags"] = np.zeros(len(flags), "uint8")
    model.load_own_variables(store)
    assert not any(layer.trainable for layer in model._flatten_layers())
