"""Bad input, systematically: every input to the public entry points below is
either accepted and works, or raises ValueError/TypeError whose message names
the argument and the value the user passed (hypothesis draws them)."""

import math

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

import tlkeras as tlk

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=1e-6, max_value=1.0),
    st.integers(-3, 3),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
)


@pytest.fixture(scope="module")
def model():
    base = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, name="first"),
            keras.layers.Dense(8, name="second"),
        ]
    )
    return tlk.build_classifier(base, 2, freeze="none")


def _fails_clearly(error, name, value):
    message = str(error)
    assert isinstance(error, (ValueError, TypeError)), repr(error)
    assert name in message, message
    assert repr(value) in message or str(value) in message, message


def _finite_positive(x):
    return (
        isinstance(x, (int, float))
        and not isinstance(x, bool)
        and math.isfinite(x)
        and x > 0
    )


@SETTINGS
@given(
    lr=st.one_of(
        floats,
        st.tuples(floats, floats),
        st.lists(floats, min_size=0, max_size=4),
    )
)
def test_discriminative_rates(model, lr):
    try:
        optimizer = tlk.training.discriminative(model, "adam", lr=lr)
    except (ValueError, TypeError) as error:
        _fails_clearly(error, "lr", lr)
        return
    rates = optimizer.group_learning_rates()
    assert all(math.isfinite(r) and r >= 0 for r in rates.values()), rates
    if isinstance(lr, tuple):
        low, high = lr
        assert _finite_positive(low) and _finite_positive(high)
        # fastai's slice(low, high): the ends are the rates given.
        names = list(rates)
        assert rates[names[0]] == pytest.approx(low, rel=1e-5)
        assert rates[names[-1]] == pytest.approx(high, rel=1e-5)
    elif isinstance(lr, list):
        assert list(rates.values()) == pytest.approx([float(x) for x in lr])
    else:
        assert _finite_positive(lr)
        assert rates["head"] == pytest.approx(lr)


@SETTINGS
@given(
    num_classes=st.one_of(st.integers(-2, 4), st.booleans(), floats),
    head=st.sampled_from(["linear", "mlp", "conv", "", None, 3]),
    freeze=st.sampled_from(["base", "none", "all", "top", "bsae", 0, None]),
    bn=st.sampled_from([None, "frozen", "train", "fozen", 1]),
)
def test_build_classifier_arguments(num_classes, head, freeze, bn):
    base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)])
    arguments = dict(num_classes=num_classes, head=head, freeze=freeze, bn=bn)
    try:
        model = tlk.build_classifier(
            base, num_classes, head=head, freeze=freeze, bn=bn
        )
    except (ValueError, TypeError) as error:
        message = str(error)
        named = [
            name
            for name, value in arguments.items()
            if name in message and repr(value) in message
        ]
        assert named, f"{type(error).__name__}: {message} {arguments}"
        return
    outputs = model.predict(np.ones((2, 4), "float32"), verbose=0)
    assert outputs.shape == (2, num_classes)
    assert np.all(np.isfinite(outputs))


@SETTINGS
@given(
    schedule=st.dictionaries(
        st.one_of(st.integers(-1, 4), st.text(max_size=2)),
        st.sampled_from(["base", "none", "first", "nope", 1, -1]),
        max_size=3,
    )
)
def test_unfreezing_schedules(model, schedule):
    try:
        callback = tlk.callbacks.ProgressiveUnfreezing(schedule)
        callback.set_model(model)
        callback.on_train_begin()
    except (ValueError, TypeError) as error:
        message = str(error)
        assert isinstance(error, (ValueError, TypeError))
        assert (
            any(
                repr(k) in message
                or repr(v) in message
                or "schedule" in message
                for k, v in schedule.items()
            )
            or "schedule" in message
        ), message
        return
    assert schedule, "an empty schedule must be refused"
