"""The embedded transfer task of the notebooks: a small CNN pretrained on
digits 0-4 (the "source"), and digits 5-9 (the "target") to transfer to."""

import keras
import numpy as np

import tlkeras as tlk
from tlkeras.demo.digits import load_digits_split
from tlkeras.demo.digits import pretrain_source


def digits_task(labels_per_class=20, seed=0):
    """(pretrained base, (x_train, y_train), (x_test, y_test))."""
    keras.utils.set_random_seed(seed)
    source, train, test = load_digits_split(labels_per_class, seed=seed)
    base = pretrain_source(source, epochs=8, verbose=0)
    return base, train, test


def fresh(base):
    """A copy of the pretrained base (each experiment starts from it)."""
    copy = keras.models.clone_model(base)
    copy.set_weights(base.get_weights())
    return copy


def accuracy(model, data):
    x, y = data
    return float(np.mean(model.predict(x, verbose=0).argmax(-1) == y))
