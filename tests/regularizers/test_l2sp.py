"""L2-SP: the paper's penalty over what trains, toward values saved with
the model."""

import keras
import numpy as np
import pytest

import tlkeras as tlk
from tests.helpers import image_data
from tests.helpers import tiny_cnn

X, Y = image_data(n=32)


def model_with(alpha=0.5, beta=0.1, freeze="none", seed=0):
    keras.utils.set_random_seed(seed)
    regularization = (
        None if alpha is None else tlk.regularizers.L2SP(alpha=alpha, beta=beta)
    )
    return tlk.build_classifier(
        tiny_cnn(), 3, freeze=freeze, regularization=regularization
    )


def moving(variable):
    return "moving" in variable.path


def test_penalty_equals_the_formula_on_a_known_displacement():
    model = model_with()
    for variable in model.base.weights:
        variable.assign(variable + 0.1)  # moving statistics too
    # What trains: the base's kernels and biases (BN layers are frozen by
    # default, their gamma and beta with them; moving statistics never).
    training = {id(v) for v in model.trainable_variables}
    displaced = sum(
        int(np.prod(v.shape)) for v in model.base.weights if id(v) in training
    )
    assert displaced < sum(int(np.prod(v.shape)) for v in model.base.weights)
    head = sum(float(np.sum(np.square(v))) for v in model.head.weights)
    expected = 0.5 / 2 * displaced * 0.1**2 + 0.1 / 2 * head
    assert float(model.regularization.penalty(model)) == pytest.approx(
        expected, rel=1e-5
    )
    # The training loss carries it; evaluation does not.
    model.compile()
    y_pred = model(X[:8])
    train = model.compute_loss(X[:8], Y[:8], y_pred, training=True)
    test = model.compute_loss(X[:8], Y[:8], y_pred, training=False)
    assert float(train - test) == pytest.approx(expected, rel=1e-4)


def test_only_what_trains_is_pulled_and_unfreezing_follows():
    model = model_with(beta=0.0, freeze="base")
    for variable in model.base.weights:
        variable.assign(variable + 0.1)
    assert float(model.regularization.penalty(model)) == 0.0  # all frozen
    tlk.freezing.apply(model, tlk.freezing.TrainTop(1))
    top = tlk.layer_groups(model)[-2]
    size = sum(int(np.prod(v.shape)) for v in top.trainable_variables)
    assert size > 0
    assert float(model.regularization.penalty(model)) == pytest.approx(
        0.5 / 2 * size * 0.1**2, rel=1e-5
    )


def test_fine_tuning_stays_closer_to_the_pretrained_weights():
    def distance(alpha):
        model = model_with(alpha=alpha, beta=0.0)
        start = [np.array(v) for v in model.base.weights]
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        model.fit(X, Y, epochs=3, batch_size=8, shuffle=False, verbose=0)
        return sum(
            float(np.sum((np.array(v) - s) ** 2))
            for v, s in zip(model.base.weights, start)
            if not moving(v)
        )

    assert distance(5.0) < 0.8 * distance(None)


def test_pretrained_values_travel_with_the_model(tmp_path):
    model = model_with()
    model.compile()
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    penalty = float(model.regularization.penalty(model))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    # Pulled toward the values saved (the pretrained ones), not toward the
    # fine-tuned weights it was loaded with.
    assert float(loaded.regularization.penalty(loaded)) == pytest.approx(
        penalty, rel=1e-6
    )
    assert loaded.regularization.get_config()["alpha"] == 0.5


def test_bad_weights_name_the_argument():
    with pytest.raises(ValueError, match="alpha=-1"):
        tlk.regularizers.L2SP(alpha=-1)
    with pytest.raises(ValueError, match="beta='x'"):
        tlk.regularizers.L2SP(beta="x")
