"""LoRA as a freeze policy: what trains, the scale, save/load, merging."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tlkeras as tlk
from tests.helpers import values


def small_base():
    """Conv, BN, a depthwise conv (no LoRA in Keras), a 1x1 conv, a Dense."""
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = keras.layers.Conv2D(12, 1, name="pw")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dense(16, activation="relu", name="fc")(x)
    return keras.Model(inputs, x, name="small")


def build(policy=None, **kwargs):
    policy = policy or tlk.freezing.LoRA(rank=2, alpha=6.0, **kwargs)
    return tlk.build_classifier(
        small_base(), num_classes=3, bn="frozen", freeze=policy
    )


def data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8, 8, 3)).astype("float32")
    return x, rng.integers(0, 3, n)


def adapted(model):
    return {
        layer.name: layer
        for layer in model.base.layers
        if getattr(layer, "lora_enabled", False)
    }


def randomize_adapters(model, seed=1):
    """Non-zero B (a fresh adapter is an exact no-op), so the scale and
    the adapters' values show in the outputs."""
    rng = np.random.default_rng(seed)
    for layer in adapted(model).values():
        b = layer.lora_kernel_b
        b.assign(rng.normal(scale=0.3, size=b.shape).astype("float32"))


def test_adapters_on_supported_layers_only():
    model = build()
    assert sorted(adapted(model)) == ["conv", "fc", "pw"]
    report = tlk.freezing.lora_report(model)
    assert [row.layer for row in report.skipped] == ["dw"]
    assert "DepthwiseConv2D" in report.skipped[0].reason
    expected = sum(
        int(np.prod(v.shape))
        for layer in adapted(model).values()
        for v in (layer.lora_kernel_a, layer.lora_kernel_b)
    )
    assert report.params == expected
    assert "3 layers with LoRA adapters" in str(report)


def test_only_adapters_and_head_train():
    model = build()
    x, y = data()
    frozen = [
        v
        for v in model.weights
        if not v.path.split("/")[-1].startswith("lora_kernel")
        and not v.path.startswith(model.head.name)
    ]
    trained = [
        v
        for layer in adapted(model).values()
        for v in (layer.lora_kernel_a, layer.lora_kernel_b)
    ] + model.head.weights
    before_frozen, before_trained = values(frozen), values(trained)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    for name, a, b in zip(
        [v.path for v in frozen], before_frozen, values(frozen)
    ):
        np.testing.assert_array_equal(a, b, err_msg=name)
    for name, a, b in zip(
        [v.path for v in trained], before_trained, values(trained)
    ):
        assert not np.array_equal(a, b), name


def test_unfreezing_a_group_keeps_adapted_kernels_frozen():
    # Keras's `trainable` setter unfreezes a LoRA layer's kernel with it.
    model = build()
    tlk.freezing.set_trainable(model, tlk.layer_groups(model)[0].name, True)
    trainable = {id(v) for v in model.trainable_variables}
    for layer in adapted(model).values():
        assert id(layer._kernel) not in trainable
        assert id(layer.bias) not in trainable
        assert id(layer.lora_kernel_b) in trainable


def test_train_bias():
    model = build(train_bias=True)
    trainable = {id(v) for v in model.trainable_variables}
    assert all(id(layer.bias) in trainable for layer in adapted(model).values())


def test_scale_is_alpha_over_rank():
    model = build()
    randomize_adapters(model)
    fc = adapted(model)["fc"]
    x = np.random.default_rng(2).normal(size=(4, 12)).astype("float32")
    w = fc._kernel.numpy() + 3.0 * fc.lora_kernel_a.numpy() @ (
        fc.lora_kernel_b.numpy()
    )
    expected = np.maximum(x @ w + fc.bias.numpy(), 0)
    np.testing.assert_allclose(fc(x), expected, rtol=1e-5, atol=1e-5)


def test_keras_round_trip_keeps_adapters_and_scale(tmp_path):
    # Keras saves the merged kernel, zeroes A and B on load (no gradient
    # reaches them again) and rebuilds Dense adapters with alpha = rank.
    model = build()
    randomize_adapters(model)
    x, y = data()
    path = tmp_path / "lora.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        model.predict(x, verbose=0), loaded.predict(x, verbose=0)
    )
    for name, layer in adapted(loaded).items():
        original = adapted(model)[name]
        assert layer.lora_alpha == 6.0
        np.testing.assert_array_equal(
            layer.lora_kernel_b.numpy(), original.lora_kernel_b.numpy()
        )
        np.testing.assert_array_equal(
            layer._kernel.numpy(), original._kernel.numpy()
        )
    assert tlk.freezing.lora_report(loaded).params > 0
    trainable = {id(v) for v in loaded.trainable_variables}
    assert {id(v) for v in model.trainable_variables}.__len__() == len(
        trainable
    )
    # The loaded adapters train on: A and B both move.
    adapters = [
        v
        for layer in adapted(loaded).values()
        for v in (layer.lora_kernel_a, layer.lora_kernel_b)
    ]
    before = values(adapters)
    loaded.compile(optimizer=keras.optimizers.Adam(1e-2))
    loaded.fit(x, y, batch_size=8, epochs=1, verbose=0)
    for a, b in zip(before, values(adapters)):
        assert not np.array_equal(a, b)


def test_weights_file_restores_adapters(tmp_path):
    model = build()
    randomize_adapters(model)
    path = tmp_path / "lora.weights.h5"
    model.save_weights(path)
    fresh = build()
    fresh.load_weights(path)
    for name, layer in adapted(fresh).items():
        np.testing.assert_array_equal(
            layer.lora_kernel_b.numpy(),
            adapted(model)[name].lora_kernel_b.numpy(),
        )
    x, _ = data()
    np.testing.assert_array_equal(
        model.predict(x, verbose=0), fresh.predict(x, verbose=0)
    )


def test_merge_lora_folds_the_adapters():
    model = build()
    randomize_adapters(model)
    merged = tlk.freezing.merge_lora(model)
    assert not tlk.freezing.has_lora(merged)
    assert tlk.freezing.has_lora(model)
    x, _ = data()
    np.testing.assert_allclose(
        merged.predict(x, verbose=0),
        model.predict(x, verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )
    fc = merged.base.get_layer("fc")
    np.testing.assert_allclose(
        fc.kernel.numpy(), adapted(model)["fc"].kernel.numpy(), atol=1e-6
    )


def test_export_merges_by_itself(tmp_path):
    model = build()
    randomize_adapters(model)
    path = tlk.export.saved_model(
        model, tmp_path / "1", input_dtype="float32", verbose=0
    )
    loaded = tf.saved_model.load(path)
    assert not [v.name for v in loaded.variables if "lora" in v.name]
    x, _ = data(4)
    served = loaded.signatures["serving_default"](images=tf.constant(x))
    np.testing.assert_allclose(
        served["probabilities"], model.predict(x, verbose=0), atol=1e-5
    )


def test_summary_shows_adapter_parameters():
    model = build()
    table = tlk.summary(model, print_fn=lambda s: None)
    header = table.splitlines()[0].split()
    assert header == [
        "group",
        "layers",
        "trainable",
        "frozen",
        "lora",
        "batchnorm",
    ]
    total = table.splitlines()[-1].split()
    assert (
        int(total[3].replace(",", "")) == tlk.freezing.lora_report(model).params
    )


def test_targets_by_group_and_layer():
    model = build(targets="fc")
    assert sorted(adapted(model)) == ["fc"]
    groups = tlk.layer_groups(model)
    model = build(targets=[groups[0].name])
    assert set(adapted(model)) <= {layer.name for layer in groups[0].layers}


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"rank": 0}, ValueError, "rank"),
        ({"rank": 2, "alpha": -1.0}, ValueError, "alpha"),
        ({"rank": 2, "targets": [3]}, TypeError, "targets"),
    ],
)
def test_bad_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        tlk.freezing.LoRA(**kwargs)


def test_bad_targets_name_what_is_wrong():
    with pytest.raises(ValueError, match="Did you mean 'fc'"):
        build(targets=["fcc"])
    with pytest.raises(ValueError, match="cannot adapt layer 'dw'"):
        build(targets=["dw"])


def test_lora_report_on_mobilenet_v2(mobilenet_v2_weights):
    model = tlk.build_classifier(
        "mobilenet_v2",
        num_classes=2,
        input_shape=(32, 32, 3),
        weights=mobilenet_v2_weights,
        base_kwargs={"alpha": 0.35},
        freeze=tlk.freezing.LoRA(rank=4),
    )
    report = tlk.freezing.lora_report(model)
    kinds = {row.type for row in report.skipped}
    assert kinds == {"DepthwiseConv2D"}
    assert len(report.adapted) == 35
