"""Distillation: Hinton's soft loss, probability outputs read as logits,
sample weights honoured, the teacher untouched, its outputs cached."""

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

import tlkeras as tlk
from tests.helpers import assert_all_equal
from tests.helpers import values


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    x = (data.data / 16.0).astype("float32")
    y = data.target.astype("int64")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    x, y = x[order], y[order]
    return (x[:1200], y[:1200]), (x[1200:], y[1200:])


def mlp(seed, hidden=64, softmax=False, batch_norm=False):
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((64,)), keras.layers.Dense(hidden, "relu")]
    if batch_norm:
        layers.append(keras.layers.BatchNormalization())
    layers.append(keras.layers.Dense(10, "softmax" if softmax else None))
    return keras.Sequential(layers)


@pytest.fixture(scope="module")
def teacher(digits):
    (x, y), _ = digits
    model = mlp(0, hidden=128, batch_norm=True)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x, y, epochs=15, batch_size=64, verbose=0)
    return model


def distill(teacher, digits, seed=1, epochs=3, **kwargs):
    (x, y), _ = digits
    options = {k: kwargs.pop(k) for k in ("cache_teacher",) if k in kwargs}
    d = tlk.strategies.Distiller(teacher, mlp(seed, hidden=16), **kwargs)
    d.compile(optimizer=keras.optimizers.Adam(1e-2))
    d.fit(
        x,
        y,
        epochs=epochs,
        batch_size=64,
        shuffle=False,
        verbose=0,
        **options,
    )
    return d


def test_student_learns_the_teacher_and_the_teacher_never_changes(
    teacher, digits
):
    before = values(teacher.weights)  # BN moving statistics included
    d = distill(teacher, digits, epochs=10, cache_teacher=False)
    assert_all_equal(before, values(teacher.weights))
    _, (x, _) = digits
    agree = np.mean(
        d.student.predict(x, verbose=0).argmax(1)
        == teacher.predict(x, verbose=0).argmax(1)
    )
    assert agree > 0.85


def test_soft_loss_is_kl_times_t_squared(teacher):
    d = tlk.strategies.Distiller(teacher, mlp(1), temperature=3.0)
    rng = np.random.default_rng(0)
    t, s = rng.normal(size=(2, 5, 10)).astype("float32")

    def softmax(z):
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    p, q = softmax(t / 3.0), softmax(s / 3.0)
    expected = 9.0 * np.sum(p * (np.log(p) - np.log(q)), axis=-1)
    np.testing.assert_allclose(d.soft_loss(t, s), expected, rtol=1e-5)


def test_a_softmax_teacher_trains_the_student_as_its_logit_twin(
    teacher, digits
):
    twin = mlp(0, hidden=128, softmax=True, batch_norm=True)
    twin.set_weights(teacher.get_weights())
    a = distill(teacher, digits)
    b = distill(twin, digits)  # "auto" reads the softmax
    assert b.teacher_probabilities and not a.teacher_probabilities
    for u, v in zip(a.student.weights, b.student.weights):
        np.testing.assert_allclose(u, v, atol=2e-5)


def test_cached_teacher_outputs_train_as_the_teacher_run_every_step(
    teacher, digits
):
    a = distill(teacher, digits, cache_teacher=True)
    b = distill(teacher, digits, cache_teacher=False)
    for u, v in zip(a.student.weights, b.student.weights):
        np.testing.assert_allclose(u, v, atol=1e-5)


class CountingTeacher(keras.Model):
    """The teacher, counting the examples it sees in eager calls and
    traced steps alike (a variable, so a traced step counts too)."""

    def __init__(self, teacher):
        super().__init__()
        self.inner = teacher
        self.seen = keras.Variable(0, dtype="int64", trainable=False)
        self(np.zeros((1, 64), "float32"))  # built, as a trained teacher is
        self.seen.assign(0)

    def call(self, x, training=False):
        self.seen.assign_add(keras.ops.cast(keras.ops.shape(x)[0], "int64"))
        return self.inner(x, training=training)


def test_a_deterministic_dataset_runs_the_teacher_once(teacher, digits):
    import tensorflow as tf

    (x, y), _ = digits
    x, y = x[:256], y[:256]
    counting = CountingTeacher(teacher)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
    d = tlk.strategies.Distiller(counting, mlp(1, hidden=16))
    d.compile(optimizer=keras.optimizers.Adam(1e-2))
    d.fit(dataset, epochs=3, verbose=0)
    assert d.teacher_cached
    assert int(counting.seen.numpy()) == 256  # one pass, not three
    # The same training as the teacher run at every step.
    e = tlk.strategies.Distiller(teacher, mlp(1, hidden=16))
    e.compile(optimizer=keras.optimizers.Adam(1e-2))
    e.fit(dataset, epochs=3, cache_teacher=False, verbose=0)
    for u, v in zip(d.student.weights, e.student.weights):
        np.testing.assert_allclose(u, v, atol=1e-5)


def test_a_randomly_augmented_dataset_runs_the_teacher_every_step(
    teacher, digits
):
    import tensorflow as tf

    (x, y), _ = digits
    x, y = x[:128], y[:128]
    noisy = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .batch(64)
        .map(lambda a, b: (a + tf.random.normal(tf.shape(a), 0, 0.01), b))
    )
    counting = CountingTeacher(teacher)
    d = tlk.strategies.Distiller(counting, mlp(1, hidden=16))
    d.compile()
    d.fit(noisy, epochs=2, verbose=0)
    assert not d.teacher_cached
    assert int(counting.seen.numpy()) == 256
    with pytest.raises(ValueError, match="random numbers"):
        d.fit(noisy, epochs=1, cache_teacher=True, verbose=0)


def test_the_student_beats_hard_labels_with_few_labels(teacher, digits):
    # The teacher learned from 1200 digits; the students see 100: the
    # setting distillation is for. Same student, seeds, epochs, optimizer.
    (x, y), (x_test, y_test) = digits
    x, y = x[:100], y[:100]
    gains = []
    for seed in (1, 2, 3):
        d = tlk.strategies.Distiller(teacher, mlp(seed), temperature=4.0)
        d.compile(optimizer=keras.optimizers.Adam(1e-2))
        d.fit(x, y, epochs=30, batch_size=32, verbose=0)
        hard = mlp(seed)
        hard.compile(
            optimizer=keras.optimizers.Adam(1e-2),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        hard.fit(x, y, epochs=30, batch_size=32, verbose=0)
        accuracy = [
            np.mean(m.predict(x_test, verbose=0).argmax(1) == y_test)
            for m in (d.student, hard)
        ]
        gains.append(accuracy[0] - accuracy[1])
    assert min(gains) > 0, gains
    assert np.mean(gains) > 0.02, gains


def test_sample_weights_weigh_both_losses(teacher, digits):
    (x, y), _ = digits
    x, y = x[:8], y[:8]
    d = tlk.strategies.Distiller(teacher, mlp(1), alpha=0.3)
    d.compile()
    weights = np.array([0, 1, 2, 0, 1, 0, 3, 1], "float32")
    y_pred = d(x)
    total = float(d.compute_loss(x, y, y_pred, sample_weight=weights))
    hard = keras.losses.sparse_categorical_crossentropy(
        y, y_pred, from_logits=True
    )
    soft = d.soft_loss(teacher(x, training=False), y_pred)
    expected = (
        0.3 * np.sum(weights * hard) / 8 + 0.7 * np.sum(weights * soft) / 8
    )
    assert total == pytest.approx(float(expected), rel=1e-5)
    unweighted = float(d.compute_loss(x, y, y_pred))
    assert unweighted != pytest.approx(total)


def test_bad_arguments_name_themselves(teacher):
    with pytest.raises(ValueError, match="temperature=0"):
        tlk.strategies.Distiller(teacher, mlp(1), temperature=0)
    with pytest.raises(ValueError, match="alpha=1.5"):
        tlk.strategies.Distiller(teacher, mlp(1), alpha=1.5)
    with pytest.raises(ValueError, match="teacher_outputs='probs'"):
        tlk.strategies.Distiller(teacher, mlp(1), teacher_outputs="probs")
