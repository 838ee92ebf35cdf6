"""Models traced anew (tuner trials, folds, strategies compared) leave no
traced graph alive once they are gone: Keras's gradient all-reduce would
pin each trace (tensorflow/tensorflow#80895)."""

import keras
import numpy as np
import pytest

import tlkeras as tlk
from tests.helpers import graphs_left_by
from tlkeras.training import unpin_train_graphs

X = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
Y = np.arange(16) % 2


def classifier():
    base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)])
    return tlk.build_classifier(base, 2)


def plain_keras(unpin):
    def train():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        optimizer = keras.optimizers.Adam()
        if unpin:
            unpin_train_graphs(optimizer)
        model.compile(optimizer=optimizer, loss="mse")
        model.fit(X, np.eye(2)[Y], epochs=1, verbose=0)

    return train


def transfer_model():
    model = classifier()
    model.compile(optimizer=tlk.training.discriminative(model, lr=1e-3))
    model.fit(X, Y, epochs=1, verbose=0)


def distiller():
    model = tlk.strategies.Distiller(student=classifier(), teacher=classifier())
    model.compile()
    model.fit(X, Y, epochs=1, verbose=0)


def domain_adaptation():
    model = tlk.strategies.DomainAdaptation(classifier(), method="dann")
    model.compile()
    model.fit((X, X), Y, batch_size=8, epochs=1, verbose=0)


def test_plain_keras_pins_every_trace_and_unpinning_frees_them():
    # The Keras behaviour this works around: if this starts failing on
    # the first assertion, Keras no longer pins traces.
    assert graphs_left_by(plain_keras(unpin=False)) > 0
    assert graphs_left_by(plain_keras(unpin=True)) == 0


@pytest.mark.parametrize(
    "train",
    [transfer_model, distiller, domain_adaptation],
    ids=lambda f: f.__name__,
)
def test_tlkeras_models_leave_no_graph_behind(train):
    assert graphs_left_by(train) == 0
