"""Unfreezing inside one `fit` takes effect, and resumes exactly."""

import os

import keras
import numpy as np
import pytest

import tlkeras as tlk
from tests.helpers import Interrupt
from tests.helpers import assert_all_equal
from tests.helpers import image_data
from tests.helpers import tiny_cnn
from tests.helpers import values

X, Y = image_data(n=32, size=16)
SCHEDULE = {0: 0, 2: 1, 3: "all"}
EPOCHS = 5


class Snapshots(keras.callbacks.Callback):
    """Each group's variables at the end of every epoch."""

    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(
            {g.name: values(g.variables) for g in tlk.layer_groups(self.model)}
        )


def fresh_model(optimizer="discriminative", seed=21):
    keras.utils.set_random_seed(seed)
    model = tlk.build_classifier(tiny_cnn(), 3, freeze="base")
    if optimizer == "discriminative":
        optimizer = tlk.training.discriminative(model, "adam", lr=(1e-3, 1e-2))
    else:
        optimizer = keras.optimizers.Adam(1e-2)
    model.compile(optimizer=optimizer)
    return model


def fit(model, callbacks=(), **kwargs):
    kwargs.setdefault("epochs", EPOCHS)
    return model.fit(
        X,
        Y,
        batch_size=8,
        shuffle=False,
        verbose=0,
        callbacks=list(callbacks),
        **kwargs,
    )


def changed(a, b):
    return [not np.array_equal(x, y) for x, y in zip(a, b)]


@pytest.mark.parametrize("optimizer", ["adam", "discriminative"])
def test_groups_change_exactly_from_their_epoch(optimizer):
    model = fresh_model(optimizer)
    start = {g.name: values(g.variables) for g in tlk.layer_groups(model)}
    snapshots = Snapshots()
    fit(
        model,
        [tlk.callbacks.ProgressiveUnfreezing(SCHEDULE, verbose=0), snapshots],
    )
    unfreeze_epoch = {"conv_c": 2, "conv_b": 3, "conv_a": 3}
    for group, epoch in unfreeze_epoch.items():
        history = [start[group]] + [s[group] for s in snapshots.epochs]
        for e in range(EPOCHS):
            # The kernel (first variable) of the group at the end of epoch e.
            moved = changed(history[e][:1], history[e + 1][:1])[0]
            assert moved == (e >= epoch), (group, e)
    # BN statistics stay fixed throughout (bn="frozen").
    bn = [
        v
        for layer in model.base.layers
        if isinstance(layer, keras.layers.BatchNormalization)
        for v in (layer.moving_mean, layer.moving_variance)
    ]
    # Each group holds kernel, bias, gamma, beta, moving mean and variance.
    first = [s for g in ("conv_a", "conv_b", "conv_c") for s in start[g][4:6]]
    assert_all_equal(first, values(bn))


def test_each_group_keeps_its_rate_and_state():
    model = fresh_model()
    optimizer = model.optimizer
    fit(model, [tlk.callbacks.ProgressiveUnfreezing(SCHEDULE, verbose=0)])
    steps = len(X) // 8
    sub = optimizer.group_optimizers
    # The head's optimizer ran every step; conv_c's since epoch 2.
    assert int(sub["head"].iterations) == EPOCHS * steps
    assert int(sub["conv_c"].iterations) == (EPOCHS - 2) * steps
    assert int(sub["conv_a"].iterations) == (EPOCHS - 3) * steps
    rates = optimizer.group_learning_rates()
    assert rates["conv_a"] == pytest.approx(1e-3, rel=1e-5)
    assert rates["head"] == pytest.approx(1e-2, rel=1e-5)


@pytest.fixture(scope="module")
def uninterrupted():
    model = fresh_model()
    fit(model, [tlk.callbacks.ProgressiveUnfreezing(SCHEDULE, verbose=0)])
    return values(model.weights)


@pytest.mark.parametrize("interrupt_after", [1, 2])
def test_backup_and_restore_resumes_exactly(
    uninterrupted, tmp_path, interrupt_after
):
    backup = str(tmp_path / "backup")
    model = fresh_model()
    with pytest.raises(RuntimeError, match="interrupted"):
        fit(
            model,
            [
                keras.callbacks.BackupAndRestore(backup),
                tlk.callbacks.ProgressiveUnfreezing(SCHEDULE, verbose=0),
                Interrupt(interrupt_after),
            ],
        )
    assert os.listdir(backup)  # the backup existed before the resume
    # Another seed: only the restored weights, optimizer state and
    # trainability can make it end bit-identical.
    resumed = fresh_model(seed=77)
    history = fit(
        resumed,
        [
            keras.callbacks.BackupAndRestore(backup),
            tlk.callbacks.ProgressiveUnfreezing(SCHEDULE, verbose=0),
        ],
    )
    assert history.epoch == list(range(interrupt_after + 1, EPOCHS))
    assert_all_equal(uninterrupted, values(resumed.weights))


def test_keras_checkpoint_and_initial_epoch_resume_exactly(
    uninterrupted, tmp_path
):
    path = str(tmp_path / "epoch{epoch}.keras")
    model = fresh_model()
    with pytest.raises(RuntimeError, match="interrupted"):
        fit(
            model,
            [
                tlk.callbacks.ProgressiveUnfreezing(SCHEDULE, verbose=0),
                keras.callbacks.ModelCheckpoint(path),
                Interrupt(2),
            ],
        )
    resumed = keras.saving.load_model(tmp_path / "epoch3.keras")
    assert [g.trainable for g in tlk.layer_groups(resumed)] == [
        False,
        False,
        True,
        True,
    ]
    fit(
        resumed,
        [tlk.callbacks.ProgressiveUnfreezing(SCHEDULE, verbose=0)],
        initial_epoch=3,
    )
    assert_all_equal(uninterrupted, values(resumed.weights))


def test_gradual_unfreezing_adds_one_group_per_epoch():
    model = fresh_model()
    trainable = []

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            trainable.append(
                [g.name for g in tlk.layer_groups(self.model) if g.trainable]
            )

    fit(model, [tlk.callbacks.GradualUnfreezing(every=1, verbose=0), Record()])
    assert trainable == [
        ["head"],
        ["conv_c", "head"],
        ["conv_b", "conv_c", "head"],
        ["conv_a", "conv_b", "conv_c", "head"],
        ["conv_a", "conv_b", "conv_c", "head"],
    ]


def test_warm_up_ramps_a_new_groups_rate():
    model = fresh_model()
    rates = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            rates.append(self.model.optimizer.group_learning_rates()["conv_c"])

    fit(
        model,
        [
            tlk.callbacks.ProgressiveUnfreezing(
                SCHEDULE, warmup_epochs=2, verbose=0
            ),
            Record(),
        ],
    )
    full = 1e-3 * 10 ** (2 / 3)
    np.testing.assert_allclose(
        rates[2:], [full / 3, 2 * full / 3, full], rtol=1e-5
    )


def test_changes_are_printed(capsys):
    model = fresh_model()
    fit(
        model,
        [tlk.callbacks.ProgressiveUnfreezing({0: 0, 1: ["conv_c"]})],
        epochs=2,
    )
    out = capsys.readouterr().out
    assert (
        "Epoch 2: ProgressiveUnfreezing: +conv_c; training ['conv_c', 'head']"
    ) in out


def test_bad_schedules_fail_before_training():
    with pytest.raises(ValueError, match="does not add to epoch 2"):
        tlk.callbacks.ProgressiveUnfreezing({0: 0, 2: 2, 4: 1})
    with pytest.raises(ValueError, match="does not add"):
        tlk.callbacks.ProgressiveUnfreezing({0: "all", 3: 2})
    with pytest.raises(ValueError, match="ints >= 0"):
        tlk.callbacks.ProgressiveUnfreezing({-1: 0})
    with pytest.raises(ValueError, match="Received: 1: 'most'"):
        tlk.callbacks.ProgressiveUnfreezing({1: "most"})
    with pytest.raises(ValueError, match="every=0"):
        tlk.callbacks.GradualUnfreezing(every=0)
    model = fresh_model()
    before = values(model.weights)
    with pytest.raises(
        ValueError,
        match=r"asks for 7 base groups at epoch "
        r"1, but the base has 3",
    ):
        fit(model, [tlk.callbacks.ProgressiveUnfreezing({0: 0, 1: 7})])
    with pytest.raises(ValueError, match=r"names \['conv_z'\] at epoch 1"):
        fit(model, [tlk.callbacks.ProgressiveUnfreezing({0: 0, 1: ["conv_z"]})])
    assert_all_equal(before, values(model.weights))
