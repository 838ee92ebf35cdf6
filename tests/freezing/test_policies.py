import keras
import numpy as np
import pytest

import tlkeras as tlk
from tests.helpers import assert_all_changed
from tests.helpers import assert_all_equal
from tests.helpers import image_data
from tests.helpers import tiny_cnn
from tests.helpers import values


def bn_layers(model):
    return [
        layer
        for layer in model.base._flatten_layers()
        if isinstance(layer, keras.layers.BatchNormalization)
    ]


def bn_stats(model):
    return values(
        [
            v
            for layer in bn_layers(model)
            for v in (layer.moving_mean, layer.moving_variance)
        ]
    )


def fit(model, epochs=2, **kwargs):
    x, y = image_data(
        n=32, size=model.input_shape[1], num_classes=model.output_shape[-1]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-2), **kwargs)
    model.fit(x, y, batch_size=8, epochs=epochs, verbose=0)


@pytest.fixture(scope="module")
def mobilenet():
    keras.utils.set_random_seed(0)
    return tlk.build_classifier(
        "mobilenet_v2",
        3,
        input_shape=(32, 32, 3),
        weights=None,
        base_kwargs={"alpha": 0.35},
        head=tlk.heads.MLP(units=(16,), dropout=0.5),
    )


def test_frozen_base_and_bn_statistics_stay_bit_identical(mobilenet):
    model = mobilenet
    tlk.freezing.apply(model, "base")
    base_before = values(model.base.weights)
    head_before = values(model.head.trainable_weights)
    assert bn_stats(model)  # the base has BN layers to check
    fit(model)
    assert_all_equal(base_before, values(model.base.weights))
    assert_all_changed(head_before, values(model.head.trainable_weights))


def test_head_dropout_is_active_in_training(mobilenet):
    x, _ = image_data(n=4, size=32)
    a = keras.ops.convert_to_numpy(mobilenet(x, training=True))
    b = keras.ops.convert_to_numpy(mobilenet(x, training=True))
    assert not np.allclose(a, b)
    c = keras.ops.convert_to_numpy(mobilenet(x, training=False))
    d = keras.ops.convert_to_numpy(mobilenet(x, training=False))
    np.testing.assert_array_equal(c, d)


def test_fine_tuning_with_frozen_bn_keeps_statistics(mobilenet):
    model = mobilenet
    tlk.freezing.apply(model, "none", bn="frozen")
    convs = [
        layer.kernel
        for layer in model.base.layers
        if isinstance(layer, keras.layers.Conv2D)
    ]
    conv_before = values(convs)
    bn_before = values([v for layer in bn_layers(model) for v in layer.weights])
    fit(model, epochs=1)
    assert_all_changed(conv_before[-3:], values(convs)[-3:])
    assert_all_equal(
        bn_before,
        values([v for layer in bn_layers(model) for v in layer.weights]),
    )


def test_bn_train_lets_statistics_update():
    model = tlk.build_classifier(tiny_cnn(), 3, freeze="none", bn="train")
    assert all(layer.trainable for layer in bn_layers(model))
    before = bn_stats(model)
    fit(model, epochs=1)
    assert_all_changed(before, bn_stats(model))


def test_bn_train_in_frozen_groups_stays_fixed():
    model = tlk.build_classifier(tiny_cnn(), 3, freeze=1, bn="train")
    groups = tlk.layer_groups(model)
    assert [g.name for g in groups] == ["conv_a", "conv_b", "conv_c", "head"]
    frozen_before = values(groups[0].variables + groups[1].variables)
    top_before = values(groups[2].variables)
    fit(model)
    assert_all_equal(
        frozen_before, values(groups[0].variables + groups[1].variables)
    )
    # conv_c's kernel, bias and BN statistics all move.
    assert_all_changed(top_before, values(groups[2].variables))


def test_top_k_groups_train(mobilenet):
    model = mobilenet
    tlk.freezing.apply(model, 2, bn="frozen")
    groups = tlk.layer_groups(model)
    assert [g.trainable for g in groups] == [False] * 4 + [True] * 3
    frozen = [v for g in groups[:4] for v in g.variables]
    trained = [v for g in groups[4:] for v in g.trainable_variables]
    frozen_before, trained_before = values(frozen), values(trained)
    fit(model, epochs=1)
    assert_all_equal(frozen_before, values(frozen))
    assert_all_changed(trained_before, values(trained))


def test_up_to_a_named_layer(mobilenet):
    model = mobilenet
    tlk.freezing.freeze_up_to(model, "block_15_project_BN")
    names = [layer.name for layer in model.base.layers]
    cut = names.index("block_15_project_BN")
    assert not any(
        layer.trainable_weights for layer in model.base.layers[: cut + 1]
    )
    after = [
        layer
        for layer in model.base.layers[cut + 1 :]
        if isinstance(layer, keras.layers.Conv2D)
    ]
    assert after and all(layer.trainable for layer in after)
    with pytest.raises(
        ValueError,
        match=r"No layer named 'block_15_projct'"
        r".*Did you mean 'block_15_project'",
    ):
        tlk.freezing.freeze_up_to(model, "block_15_projct")


def test_predicate_freezes_what_it_selects():
    model = tlk.build_classifier(
        tiny_cnn(), 3, freeze=lambda layer: layer.name in ("conv_a", "conv_c")
    )
    trainable = {
        layer.name for layer in model.base.layers if layer.trainable_weights
    }
    assert trainable == {"conv_b"}
    assert model.head.trainable_weights


def test_bad_policies_are_clear_errors():
    model = tlk.build_classifier(tiny_cnn(), 3)
    with pytest.raises(
        ValueError,
        match=r"freeze=5 .* base has 3: "
        r"\['conv_a', 'conv_b', 'conv_c'\]",
    ):
        tlk.freezing.apply(model, 5)
    with pytest.raises(ValueError, match="Received: freeze='everything'"):
        tlk.freezing.apply(model, "everything")
    with pytest.raises(TypeError, match="Received: freeze=True"):
        tlk.freezing.apply(model, True)
    with pytest.raises(ValueError, match="Received: bn='learn'"):
        tlk.freezing.apply(model, "base", bn="learn")
    with pytest.raises(ValueError, match="Received: bn='learn'"):
        tlk.build_classifier(tiny_cnn(), 3, bn="learn")


def test_resizing_in_front_of_the_base_keeps_bn_in_inference():
    inputs = keras.Input((24, 24, 3))
    x = keras.layers.Resizing(16, 16, name="resize")(inputs)
    base = keras.Model(inputs, tiny_cnn()(x))
    model = tlk.build_classifier(base, 3, freeze="none", bn="frozen")
    stats = [
        v
        for layer in model.base._flatten_layers()
        if isinstance(layer, keras.layers.BatchNormalization)
        for v in (layer.moving_mean, layer.moving_variance)
    ]
    assert len(stats) == 6
    before = values(stats)
    kernel_before = values(
        [model.base.get_layer("cnn").get_layer("conv_a").kernel]
    )
    fit(model, epochs=1)
    assert_all_equal(before, values(stats))
    assert_all_changed(
        kernel_before,
        values([model.base.get_layer("cnn").get_layer("conv_a").kernel]),
    )


def test_plain_keras_model_can_be_frozen():
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, name="d1"),
            keras.layers.Dense(8, name="d2"),
            keras.layers.Dense(2, name="out"),
        ]
    )
    assert [g.name for g in tlk.layer_groups(model)] == ["d1", "d2", "head"]
    tlk.freezing.apply(model, 1)
    assert [layer.trainable for layer in model.layers] == [False, True, True]
