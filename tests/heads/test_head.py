import keras
import numpy as np
import pytest

from tlkeras.heads import MLP
from tlkeras.heads import Head
from tlkeras.heads import Linear


@pytest.mark.parametrize(
    "shape, pooling, expected_pool",
    [
        ((2, 4, 4, 8), "avg", "GlobalAveragePooling2D"),
        ((2, 4, 4, 8), "max", "GlobalMaxPooling2D"),
        ((2, 4, 4, 8), "flatten", "Flatten"),
        ((2, 6, 8), "avg", "GlobalAveragePooling1D"),
        ((2, 2, 2, 2, 8), "max", "GlobalMaxPooling3D"),
        ((2, 8), "avg", None),
    ],
)
def test_pooling_only_where_needed(shape, pooling, expected_pool):
    head = Linear(pooling=pooling).with_outputs(3, "softmax")
    out = head(np.ones(shape, "float32"))
    assert out.shape == (2, 3)
    assert head.compute_output_shape(shape) == (2, 3)
    name = None if head.pool is None else type(head.pool).__name__
    assert name == expected_pool


def test_mlp_structure_and_regularization():
    head = MLP(
        units=(16, 8), dropout=0.2, l1=1e-3, l2=1e-3, batch_norm=True
    ).with_outputs(2)
    head(np.ones((4, 5, 5, 3), "float32"))
    dense = [
        layer for layer in head.hidden if isinstance(layer, keras.layers.Dense)
    ]
    assert [layer.units for layer in dense] == [16, 8]
    assert all(not layer.use_bias for layer in dense)
    assert (
        sum(
            isinstance(layer, keras.layers.BatchNormalization)
            for layer in head.hidden
        )
        == 2
    )
    assert len(head.losses) == 3  # two hidden kernels and the output kernel
    assert all(float(loss) > 0 for loss in head.losses)


def test_dropout_only_in_training():
    head = MLP(units=(32,), dropout=0.5).with_outputs(4)
    x = np.ones((8, 16), "float32")
    a, b = head(x, training=True), head(x, training=True)
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(head(x), head(x))


def test_output_runs_in_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        head = MLP(units=(8,)).with_outputs(3, "softmax")
        assert head(np.ones((2, 4), "float16")).dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize(
    "head",
    [
        Head(
            units=(4,),
            activation="gelu",
            dropout=0.1,
            l2=1e-4,
            pooling="max",
            num_outputs=3,
            output_activation="sigmoid",
        ),
        Linear(dropout=0.2, l2=1e-3).with_outputs(2, "softmax"),
        MLP(units=(8, 4), batch_norm=True).with_outputs(1),
    ],
)
def test_config_and_saving_round_trip(head, tmp_path):
    config = head.get_config()
    clone = head.__class__.from_config(config)
    assert clone.get_config() == config
    inputs = keras.Input((3, 3, 6))
    model = keras.Model(inputs, head(inputs))
    path = tmp_path / "head.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 6)).astype("float32")
    np.testing.assert_array_equal(
        model.predict(x, verbose=0), loaded.predict(x, verbose=0)
    )
    assert type(loaded.layers[-1]) is type(head)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"units": (0,)}, "units=\\(0,\\)"),
        ({"dropout": 1.0}, "dropout=1.0"),
        ({"l2": -1.0}, "l2=-1.0"),
        ({"pooling": "mean"}, "pooling='mean'"),
        ({"num_outputs": 0}, "num_outputs=0"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Head(**kwargs)


def test_pooling_none_needs_a_vector():
    with pytest.raises(ValueError, match="rank 4.*pooling=None"):
        Linear(pooling=None).with_outputs(2)(np.ones((1, 2, 2, 3), "float32"))
