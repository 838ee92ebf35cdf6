"""Self-training: it gains over labelled-only training with few labels;
thresholds, balance and the FixMatch-style views."""

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

import tlkeras as tlk


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    x = (data.data / 16).astype("float32")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    return x[order], data.target[order]


def linear(seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(10, activation="softmax")]
    )
    model.compile(
        keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy"
    )
    return model


def test_self_training_beats_labelled_only_with_few_labels(digits):
    # 100 labels, 1100 unlabelled digits, 597 held out. Both models start
    # from the same labelled-only training and get 15 more epochs.
    x, y = digits
    labelled, unlabelled = (x[:100], y[:100]), (x[100:1200], y[100:1200])
    x_test, y_test = x[1200:], y[1200:]
    gains = []
    for seed in range(3):
        start = linear(seed)
        start.fit(*labelled, epochs=30, batch_size=16, verbose=0)
        weights = start.get_weights()
        alone = linear(seed)
        alone.set_weights(weights)
        alone.fit(*labelled, epochs=15, batch_size=32, verbose=0)
        student = linear(seed)
        student.set_weights(weights)
        history = tlk.strategies.self_train(
            student, labelled, unlabelled, rounds=3, epochs=5, verbose=0
        )
        counts = [r.pseudo_labels for r in history.rounds]
        assert counts == sorted(counts) and counts[0] > 0
        assert all(r.accuracy > 0.95 for r in history.rounds)
        accuracy = [
            np.mean(m.predict(x_test, verbose=0).argmax(-1) == y_test)
            for m in (student, alone)
        ]
        gains.append(accuracy[0] - accuracy[1])
    assert min(gains) > 0, gains
    assert np.mean(gains) > 0.005, gains


def test_the_threshold_is_strict_and_checked(digits):
    x, y = digits
    model = linear(0)
    model.fit(x[:100], y[:100], epochs=5, verbose=0)
    top = model.predict(x[100:300], verbose=0).max(-1)
    threshold = float(np.sort(top)[100])  # exactly one example's confidence
    history = tlk.strategies.self_train(
        model,
        (x[:100], y[:100]),
        x[100:300],
        rounds=1,
        epochs=1,
        threshold=threshold,
        balance=False,
        verbose=0,
    )
    assert history.rounds[0].pseudo_labels == int(np.sum(top > threshold))
    assert history.rounds[0].accuracy is None  # no true labels given
    for bad in (0, 1, 1.5, -0.1):
        with pytest.raises(ValueError, match="strictly between 0 and 1"):
            tlk.strategies.self_train(
                model, (x[:10], y[:10]), x[10:20], threshold=bad
            )


class Counting(keras.layers.Layer):
    """An augmentation stand-in that counts the examples it sees."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = self.add_weight(
            shape=(), initializer="zeros", trainable=False, dtype="int64"
        )

    def call(self, x, training=None):
        self.seen.assign_add(keras.ops.cast(keras.ops.shape(x)[0], "int64"))
        return x


def test_fixmatch_labels_the_weak_view_and_trains_on_the_strong(digits):
    x, y = digits
    model = linear(0)
    model.fit(x[:100], y[:100], epochs=10, verbose=0)
    weak, strong = Counting(), Counting()
    history = tlk.strategies.self_train(
        model,
        (x[:100], y[:100]),
        x[100:400],
        rounds=1,
        epochs=2,
        threshold=0.5,
        fixmatch=True,
        weak=weak,
        strong=strong,
        verbose=0,
    )
    taken = history.rounds[0].pseudo_labels
    assert taken > 0
    # Weak: the 300 unlabelled to label them, then the 100 labelled per
    # epoch; strong: only the pseudo-labelled, per epoch.
    assert int(weak.seen.numpy()) == 300 + 2 * 100
    assert int(strong.seen.numpy()) == 2 * taken
