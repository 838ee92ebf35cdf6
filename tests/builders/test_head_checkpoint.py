"""Head-only checkpoints: written small, restored into the full model only
when its base is the one the head trained on."""

import h5py
import keras
import numpy as np
import pytest

import tlkeras as tlk
from tests.helpers import assert_all_equal
from tests.helpers import image_data
from tests.helpers import tiny_cnn
from tests.helpers import values
from tlkeras.builders.head_checkpoint import is_head_checkpoint
from tlkeras.builders.head_checkpoint import save_head_checkpoint

X, Y = image_data(n=16, num_classes=3)


def trained(base, seed=0):
    keras.utils.set_random_seed(seed)
    model = tlk.build_classifier(base, 3, head="mlp", freeze="base")
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(X, Y, epochs=2, batch_size=8, verbose=0)
    return model


def test_restores_head_and_optimizer_into_a_model_with_the_same_base(
    tmp_path,
):
    base = tiny_cnn()
    model = trained(base)
    path = tmp_path / "head.weights.h5"
    save_head_checkpoint(model, path)
    with h5py.File(path, "r") as file:  # the base is not in the file
        assert set(file) == {"head", "optimizer"}
    fresh = trained(base, seed=1)  # same base weights, another head
    assert not np.allclose(fresh.predict(X), model.predict(X))
    fresh.load_weights(path)
    np.testing.assert_array_equal(fresh.predict(X), model.predict(X))
    assert_all_equal(
        values(model.optimizer.variables), values(fresh.optimizer.variables)
    )


def test_refuses_a_base_with_other_weights(tmp_path):
    model = trained(tiny_cnn())
    path = tmp_path / "head.weights.h5"
    save_head_checkpoint(model, path)
    other = trained(tiny_cnn("other"))  # same layers, other random weights
    with pytest.raises(ValueError, match="frozen base whose weights differ"):
        other.load_weights(path)


def test_refuses_another_head(tmp_path):
    base = tiny_cnn()
    path = tmp_path / "head.weights.h5"
    save_head_checkpoint(trained(base), path)
    linear = tlk.build_classifier(base, 3, head="linear", freeze="base")
    with pytest.raises(ValueError, match="saved from a different head"):
        linear.load_weights(path)


def test_full_weights_files_still_load_the_keras_way(tmp_path):
    base = tiny_cnn()
    model = trained(base)
    path = tmp_path / "full.weights.h5"
    model.save_weights(path)
    assert not is_head_checkpoint(path)
    fresh = trained(base, seed=1)
    fresh.load_weights(path)
    np.testing.assert_array_equal(fresh.predict(X), model.predict(X))


def test_name_must_end_in_h5(tmp_path):
    with pytest.raises(ValueError, match=r"must end in `\.h5`"):
        save_head_checkpoint(trained(tiny_cnn()), tmp_path / "head.keras")
