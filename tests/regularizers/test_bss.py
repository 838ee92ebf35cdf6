"""BSS: the k smallest squared singular values of the batch's features, in
the training loss only."""

import keras
import numpy as np
import pytest

import tlkeras as tlk
from tests.helpers import image_data
from tests.helpers import tiny_cnn

X, Y = image_data(n=8)


def test_shrinkage_equals_numpys_svd():
    features = np.random.default_rng(0).normal(size=(8, 5)).astype("float32")
    s = np.linalg.svd(features, compute_uv=False)  # descending
    bss = tlk.regularizers.BSS(k=2, weight=0.5)
    assert float(bss.shrinkage(features)) == pytest.approx(
        0.5 * float(np.sum(s[-2:] ** 2)), rel=1e-4
    )


def loss_gap(model):
    """Training loss minus evaluation loss on the same predictions."""
    model.compile()
    y_train = model(X, training=True)
    train = float(model.compute_loss(X, Y, y_train, training=True))
    y_test = model(X, training=False)
    np.testing.assert_allclose(y_train, y_test, atol=1e-6)
    test = float(model.compute_loss(X, Y, y_test, training=False))
    return train - test


def test_the_training_loss_carries_it_and_it_survives_a_round_trip(
    tmp_path,
):
    keras.utils.set_random_seed(0)
    bss = tlk.regularizers.BSS(k=1, weight=0.5)
    model = tlk.build_classifier(
        tiny_cnn(),
        3,
        freeze="none",
        regularization=[tlk.regularizers.L2SP(alpha=0.0, beta=0.0), bss],
    )
    features = np.asarray(model.head.pool_features(model.base(X)))
    s = np.linalg.svd(features, compute_uv=False)
    expected = 0.5 * float(s[-1] ** 2)
    assert expected > 0
    model.save(tmp_path / "m.keras")  # saved uncompiled: no optimizer
    assert loss_gap(model) == pytest.approx(expected, rel=1e-3)
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert [type(r).__name__ for r in loaded.regularization] == ["L2SP", "BSS"]
    assert loss_gap(loaded) == pytest.approx(expected, rel=1e-3)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="k=0"):
        tlk.regularizers.BSS(k=0)
    with pytest.raises(ValueError, match="weight=-1"):
        tlk.regularizers.BSS(weight=-1)
