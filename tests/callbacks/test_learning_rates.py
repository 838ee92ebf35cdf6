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
