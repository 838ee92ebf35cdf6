"""Errors from learning-rate schedules and per-group rates never hide."""

import keras
import numpy as np
import pytest

import tlkeras as tlk
from tests.helpers import image_data
from tests.helpers import tiny_cnn

X, Y = image_data(n=16, size=16)


def model_with(optimizer_of):
    model = tlk.build_classifier(tiny_cnn(), 3, freeze="none")
    model.compile(optimizer=optimizer_of(model))
    return model


def test_a_type_error_inside_a_two_argument_schedule_surfaces():
    calls = []

    def schedule(epoch, lr):
        calls.append((epoch, lr))
        return lr * "half"  # a bug in the user's schedule: TypeError

    model = model_with(lambda m: keras.optimizers.Adam(1e-3))
    callback = tlk.callbacks.LearningRateScheduler(schedule)
    with pytest.raises(TypeError, match="can't multiply|unsupported"):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[callback])
    # Called once, with both arguments: not retried with one.
    assert len(calls) == 1 and calls[0][1] == pytest.approx(1e-3)


def test_one_and_two_argument_schedules_both_work():
    model = model_with(
        lambda m: tlk.training.discriminative(m, "adam", lr=(1e-4, 1e-2))
    )
    one = tlk.callbacks.LearningRateScheduler(lambda epoch: 1e-3 * (epoch + 1))
    model.fit(X, Y, epochs=2, verbose=0, callbacks=[one])
    assert model.optimizer.group_learning_rates()["head"] == pytest.approx(2e-3)
    two = tlk.callbacks.LearningRateScheduler(lambda epoch, lr: lr / 2)
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[two])
    assert model.optimizer.group_learning_rates()["head"] == pytest.approx(1e-3)
    with pytest.raises(TypeError, match="taking no arguments"):
        tlk.callbacks.LearningRateScheduler(lambda: 1e-3)


def test_independent_group_rates_say_so():
    model = tlk.build_classifier(tiny_cnn(), 3, freeze="none")
    optimizer = tlk.training.per_group(
        model,
        {"head": keras.optimizers.Adam(1e-2)},
        default=keras.optimizers.SGD(
            keras.optimizers.schedules.ExponentialDecay(1e-3, 10, 0.5)
        ),
    )
    with pytest.raises(TypeError, match="independent learning rates"):
        optimizer.learning_rate
    model.compile(optimizer=optimizer)
    reduce = keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=0)
    # ReduceLROnPlateau loops over `.optimizers` and keeps working.
    model.fit(X, Y, epochs=2, verbose=0, callbacks=[reduce])
    assert np.isfinite(model.optimizer.group_learning_rates()["head"])


@pytest.mark.parametrize(
    "optimizer_of, why",
    [
        (lambda m: keras.optimizers.Adam(1e-3), "without per-group rates"),
        (
            lambda m: tlk.training.discriminative(
                m,
                "adam",
                lr=tlk.recipes.warmup_cosine(1e-2, 20, 4),
            ),
            "not schedules",
        ),
    ],
)
def test_warmup_is_refused_before_training_where_it_cannot_work(
    optimizer_of, why
):
    model = tlk.build_classifier(tiny_cnn(), 3)
    model.compile(optimizer=optimizer_of(model))
    before = [np.array(w) for w in model.weights]
    callback = tlk.callbacks.ProgressiveUnfreezing(
        {0: "base", 1: "none"}, warmup_epochs=1, verbose=0
    )
    with pytest.raises(ValueError, match=why):
        model.fit(X, Y, epochs=2, verbose=0, callbacks=[callback])
    for a, b in zip(before, model.weights):
        np.testing.assert_array_equal(a, np.array(b))  # not one step ran


def test_predict_on_a_dataset_of_unknown_length_is_quiet():
    import warnings

    import tensorflow as tf

    model = tlk.build_classifier(tiny_cnn(), 3)
    data = tf.data.Dataset.from_tensor_slices(X).filter(lambda x: True)
    data = data.batch(4)
    assert int(data.cardinality()) == int(tf.data.UNKNOWN_CARDINALITY)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = model.predict(data, verbose=0)
    assert out.shape == (16, 3)
    assert not [w for w in caught if "ran out of data" in str(w.message)]
