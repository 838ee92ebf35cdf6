"""`fine_tune(target=...)`: how far the task is from the pretraining data,
measured on held-out data, sets the fine-tuning rate and BN policy."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tlkeras as tlk
from tests.helpers import image_data
from tests.helpers import tiny_cnn
from tests.helpers import values
from tlkeras.demo.digits import load_digits_split
from tlkeras.demo.digits import pretrain_source
from tlkeras.recipes import target

X, Y = image_data(n=48, num_classes=3)


def fresh(base=None, seed=0):
    keras.utils.set_random_seed(seed)
    return tlk.build_classifier(base or tiny_cnn(), 3 if base is None else 5)


@pytest.fixture(scope="module")
def digits():
    """A small CNN pretrained on digits 0-4, and digits 5-9 to learn from
    10 labels per class: a task far from the pretraining data."""
    keras.utils.set_random_seed(0)
    source, train, test = load_digits_split(10, seed=0)
    base = pretrain_source(source, epochs=10, verbose=0)
    return base, base.get_weights(), train, test


def digits_run(digits, **kwargs):
    base, weights, train, test = digits
    base.set_weights(weights)
    model = fresh(base)
    bn = [v for v in base.weights if "moving" in v.path]
    start = values(bn)
    history = tlk.recipes.fine_tune(
        model, train, fine_tune_epochs=10, batch_size=16, **kwargs
    )
    accuracy = float(np.mean(tlk.predict(model, test[0]).argmax(1) == test[1]))
    moved = not all(np.array_equal(a, b) for a, b in zip(start, values(bn)))
    return history, accuracy, moved, float(model.optimizer.learning_rate)


def test_auto_adapts_the_base_to_a_far_task(digits, capsys):
    auto, auto_accuracy, bn_moved, rate = digits_run(digits)
    assert auto.target == "far"
    assert auto.target_losses["far"] < auto.target_losses["near"]
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith(
        "tlkeras.recipes.fine_tune: target 'far' (lr 0.001, BN statistics "
        "trained): held-out loss "
    )
    # The final stage 2 ran as chosen: at lr, BN statistics updated.
    assert rate == pytest.approx(1e-3)
    assert bn_moved
    near, near_accuracy, bn_moved, rate = digits_run(digits, target="near")
    assert near.target == "near" and near.target_losses == {}
    assert rate == pytest.approx(1e-5) and not bn_moved
    # What the measurement is for: on this task "near" barely moves the
    # features a linear head cannot use (measured: 0.6-0.7 against 0.9).
    assert auto_accuracy > near_accuracy + 0.1


def test_the_user_sees_only_the_chosen_run():
    model = fresh()
    began = []

    class Count(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            began.append(float(self.model.optimizer.learning_rate))

    history = tlk.recipes.fine_tune(
        model,
        (X, Y),
        fine_tune_epochs=2,
        callbacks=[Count()],
        batch_size=8,
        verbose=0,
    )
    losses = history.target_losses
    assert set(losses) == {"near", "far"}
    chosen = "far" if losses["far"] < 0.9 * losses["near"] else "near"
    assert history.target == chosen
    # The head stage and stage 2, not the trials behind the choice.
    assert len(began) == 2
    assert began[1] == pytest.approx({"near": 1e-5, "far": 1e-3}[chosen])
    assert history.stage_starts == [0, history.converged_epochs]


def fake_run(table, seen):
    """A trial that trains the head and reports `table`'s loss for its
    setting, plus the mean label of the data it is validated on."""

    def run(model, data, validation, setting=None, **options):
        seen.append((setting and setting.name, options))
        for v in model.head.weights:  # the trials train
            v.assign(v + 1.0)
        history = keras.callbacks.History()
        loss = table[setting and setting.name] + np.mean(validation[1])
        history.history = {"val_loss": [loss + 1, loss, loss + 2]}
        return history

    return run


def test_choose_keeps_the_lowest_loss_and_restores_the_model():
    model = fresh()
    start = values(model.weights)
    candidates = target.settings("auto", 1e-3, None, None)
    seen = []
    table = {None: 9.0, "near": 0.5, "far": 0.25}
    run = fake_run(table, seen)
    validation = (X[:6], np.zeros(6))
    chosen, losses = target.choose(model, candidates, (X, Y), validation, run)
    assert chosen.name == "far" and losses == {"near": 0.5, "far": 0.25}
    # One head stage, then each candidate from that head.
    assert seen == [
        (None, {"fine_tune_epochs": 0}),
        ("near", {"head_epochs": 0}),
        ("far", {"head_epochs": 0}),
    ]
    np.testing.assert_equal(values(model.weights), start)
    # A near-tie keeps the first, gentle setting.
    table["far"] = 0.46
    chosen, _ = target.choose(model, candidates, (X, Y), validation, run)
    assert chosen.name == "near"


def test_little_data_is_measured_on_every_example_by_folds():
    # 48 examples, under CROSS_VALIDATE_BELOW: five stratified folds, each
    # example held out once, each fold's head and trials from the start.
    model = fresh()
    start = values(model.weights)
    seen = []
    table = {None: 9.0, "near": 0.5, "far": 0.25}
    candidates = target.settings("auto", 1e-3, None, None)
    chosen, losses = target.choose(
        model, candidates, (X, Y), None, fake_run(table, seen)
    )
    # The folds' losses, weighted by their sizes: every label counted once.
    assert losses["near"] == pytest.approx(0.5 + np.mean(Y))
    assert losses["far"] == pytest.approx(0.25 + np.mean(Y))
    assert [name for name, _ in seen] == [None, "near", "far"] * 5
    np.testing.assert_equal(values(model.weights), start)
    folds = target.held_out(Y, 0.2, seed=0)
    assert sorted(np.concatenate(folds)) == list(range(len(Y)))
    most = np.ceil(np.bincount(Y) / 5)
    for held in folds:  # each class spread evenly over the folds
        assert np.all(np.bincount(Y[held], minlength=3) <= most)
    # From CROSS_VALIDATE_BELOW examples on, one stratified fifth, and the
    # losses are that fifth's (not scaled by its share of the data).
    labels = np.arange(target.CROSS_VALIDATE_BELOW) % 4
    (held,) = target.held_out(labels, 0.2, seed=0)
    assert list(np.bincount(labels[held])) == [5, 5, 5, 5]
    many = np.repeat(X, 5, axis=0)[: len(labels)]
    seen.clear()
    _, losses = target.choose(
        model, candidates, (many, labels), None, fake_run(table, seen)
    )
    assert [name for name, _ in seen] == [None, "near", "far"]
    assert losses["near"] == pytest.approx(0.5 + np.mean(labels[held]))
    assert losses["far"] == pytest.approx(0.25 + np.mean(labels[held]))
    with pytest.raises(ValueError, match="Too few examples"):
        target.held_out(np.array([1]), 0.2, seed=0)


def test_holdout_is_stratified_and_reads_datasets():
    dataset = tf.data.Dataset.from_tensor_slices((X, Y)).batch(8)
    x, y = target.dataset_arrays(dataset)
    _, held = target.stratified_split(y, 0.25, seed=0)
    (fx, fy), (hx, hy) = target._split(x, y, held)
    assert len(fy) + len(hy) == len(Y)
    assert sorted(np.bincount(hy)) == sorted(np.round(np.bincount(Y) / 4))
    # The held-out images are the ones of their labels, not copies of
    # training images.
    for image, label in zip(hx, hy):
        match = np.flatnonzero((X == image).all(axis=(1, 2, 3)))
        assert Y[match[0]] == label
        assert not (fx == image).all(axis=(1, 2, 3)).any()
    real = np.linspace(0.0, 1.0, 20).astype("float32") + 0.01
    fit, held = target.stratified_split(real, 0.2, seed=0)
    assert len(held) == 4 and len(fit) == 16


def test_target_settings_and_errors(monkeypatch):
    near, far = target.settings("auto", 1e-3, 2e-4, None)
    assert (near.lr, near.bn, far.lr, far.bn) == (2e-4, None, 2e-4, "train")
    assert len(target.settings("auto", 1e-3, 2e-4, "frozen")) == 1
    with pytest.raises(ValueError, match=r"one of \('auto'.*target='close'"):
        tlk.recipes.fine_tune(fresh(), (X, Y), target="close")
    monkeypatch.setattr(target, "MAX_HOLDOUT_BYTES", 1000)
    dataset = tf.data.Dataset.from_tensor_slices((X, Y)).batch(8)
    with pytest.raises(ValueError, match="over 1,000 bytes.*validation_data"):
        tlk.recipes.fine_tune(fresh(), dataset, verbose=0)


def test_auto_fine_tunes_a_far_task_whatever_its_size(digits, capsys):
    base, weights, train, _ = digits
    base.set_weights(weights)
    history = tlk.recipes.auto(
        fresh(base), train, fine_tune_epochs=5, batch_size=16
    )
    # 10 per class: a near task this small would get the probe alone.
    assert history.recipe == "fine_tune" and history.target == "far"
    line = capsys.readouterr().out.splitlines()[0]
    assert "10 per class, held-out loss" in line
    assert line.endswith(
        ": fine_tune (the pretrained features suit this task poorly: the "
        "whole network re-learns them at the head's rate, BN statistics "
        "included)."
    )
    with pytest.raises(ValueError, match="fine_tune_epochs=0"):
        tlk.recipes.auto(fresh(base), train, fine_tune_epochs=0)


def test_a_measured_near_target_fine_tunes_with_the_models_bn_policy(
    monkeypatch,
):
    # The "far" trial trains BN statistics; the chosen "near" run must not.
    monkeypatch.setattr(target, "MARGIN", 1.0)
    model = fresh()
    moving = [v for v in model.base.weights if "moving" in v.path]
    start = values(moving)
    history = tlk.recipes.fine_tune(
        model, (X, Y), fine_tune_epochs=2, batch_size=8, verbose=0
    )
    assert history.target == "near" and set(history.target_losses) == {
        "near",
        "far",
    }
    assert model.bn == "frozen"
    np.testing.assert_equal(values(moving), start)
    assert not any(
        layer.trainable
        for layer in model.base._flatten_layers()
        if isinstance(layer, keras.layers.BatchNormalization)
    )
