"""Building an optimizer never changes the model; a zero-rate group costs
nothing and never moves."""

import subprocess
import sys

import keras
import numpy as np
import pytest

import tlkeras as tlk
from tests.helpers import assert_all_changed
from tests.helpers import assert_all_equal
from tests.helpers import image_data
from tests.helpers import tiny_cnn
from tests.helpers import values

X, Y = image_data(n=32, size=16)


def flags(model):
    return [layer.trainable for layer in model._flatten_layers()]


def group(model, name):
    return next(g for g in tlk.layer_groups(model) if g.name == name)


@pytest.mark.parametrize(
    "lr",
    [1e-3, (1e-4, 1e-2), [0.0, 1e-3, 1e-3, 1e-2], [0.0, 0.0, 0.0, 1e-2]],
)
def test_factories_leave_every_flag_as_it_was(lr):
    model = tlk.build_classifier(tiny_cnn(), 3, freeze="none")
    before = flags(model)
    tlk.training.discriminative(model, "adam", lr=lr)
    tlk.training.per_group(model, {}, default=keras.optimizers.SGD())
    assert flags(model) == before


def test_a_zero_rate_group_gets_no_state_no_gradient_and_never_moves():
    keras.utils.set_random_seed(1)
    model = tlk.build_classifier(tiny_cnn(), 3, freeze="none")
    optimizer = tlk.training.discriminative(
        model, "adam", lr=[0.0, 1e-2, 1e-2, 1e-2]
    )
    received = []
    for sub in optimizer.optimizers:
        original = sub.apply

        def apply(grads, variables=None, _original=original):
            received.extend(v.path for v in variables)
            return _original(grads, variables)

        sub.apply = apply
    model.compile(optimizer=optimizer)
    conv_a = group(model, "conv_a")
    frozen_before = values(conv_a.variables)
    trained_before = values(group(model, "conv_b").trainable_variables)
    model.fit(X, Y, batch_size=8, epochs=2, verbose=0)
    # Still trainable by its flags: the optimizer, not the model, skips it.
    assert conv_a.trainable_variables
    assert_all_equal(frozen_before[:4], values(conv_a.variables)[:4])
    assert_all_changed(
        trained_before, values(group(model, "conv_b").trainable_variables)
    )
    # No gradient reaches an optimizer, and no state is kept for it.
    assert received and not [p for p in received if "conv_a" in p]
    assert not [v for v in optimizer.variables if "conv_a" in v.path]
    assert "conv_a" not in optimizer.group_optimizers
    # Nothing to rebuild on the next fit: the optimizer is in sync.
    assert not tlk.training.sync_trainable(model)


def test_a_zero_rate_group_survives_a_keras_round_trip(tmp_path):
    model = tlk.build_classifier(tiny_cnn(), 3, freeze="none")
    model.compile(
        optimizer=tlk.training.discriminative(
            model, "adam", lr=[0.0, 0.0, 1e-2, 1e-2]
        )
    )
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.optimizer.untrained_groups == ["conv_a", "conv_b"]
    before = values(group(loaded, "conv_a").variables)
    loaded.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    assert_all_equal(before[:4], values(group(loaded, "conv_a").variables)[:4])


def test_fit_reads_keras_positional_arguments():
    model = tlk.build_classifier(tiny_cnn(), 3, freeze="none")
    model.compile(
        optimizer=tlk.training.discriminative(model, "adam", lr=(1e-4, 1e-2))
    )
    # x, y, batch_size, epochs, verbose, callbacks: all positional.
    history = model.fit(X, Y, 8, 1, 0, [keras.callbacks.TerminateOnNaN()])
    assert "lr/head" in history.history
    assert history.history["lr/head"][0] == pytest.approx(1e-2)
    with pytest.raises(TypeError):
        model.fit(X, Y, no_such_argument=1)


def test_import_tlkeras_does_not_load_keras_tuner():
    code = (
        "import sys, tlkeras\n"
        "assert 'keras_tuner' not in sys.modules, 'loaded'\n"
        "tlkeras.tuning.TransferHyperModel\n"
        "assert 'keras_tuner' in sys.modules\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-2000:]


def test_import_tlkeras_leaves_the_tensorflow_runtime_unstarted():
    # A multi-worker strategy must be created before TensorFlow's runtime
    # starts ("Collective ops must be configured at program startup").
    code = (
        "from tensorflow.python.eager import context\n"
        "import tlkeras\n"
        "assert not context.context()._initialized, 'started'\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-2000:]


def test_freezing_only_sets_flags():
    model = tlk.build_classifier(tiny_cnn(), 3, freeze="none")
    model.compile()
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    optimizer_variables = [id(v) for v in model.optimizer.variables]
    tlk.freezing.apply(model, "base")
    # Untouched until something makes the flags take effect...
    assert [id(v) for v in model.optimizer.variables] == optimizer_variables
    # ...which fit does through make_train_function.
    assert tlk.training.sync_trainable(model)
    assert len(model.optimizer.variables) < len(optimizer_variables)
    assert np.all(
        [
            "conv_a" not in v.path
            for v in model.optimizer.variables
            if v.path.endswith("momentum")
        ]
    )
