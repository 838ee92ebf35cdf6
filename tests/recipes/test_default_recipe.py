"""The default recipe: the head to convergence on cached features, then
fine-tuning at a small rate that is undone when it does not help; `auto`;
test-time augmentation."""

import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import tlkeras as tlk
from tests.helpers import assert_all_changed
from tests.helpers import assert_all_equal
from tests.helpers import image_data
from tests.helpers import tiny_cnn
from tests.helpers import values

X, Y = image_data(n=48, num_classes=3)
XV, YV = image_data(n=24, num_classes=3, seed=1)


def base_variables(model):
    return model.base.weights


def fresh(seed=0):
    keras.utils.set_random_seed(seed)
    return tlk.build_classifier(tiny_cnn(), 3)


def test_train_head_converges_with_the_base_untouched():
    model = fresh()
    start = values(base_variables(model))
    head = values(model.head.weights)
    history = tlk.recipes.train_head(
        model, X, Y, lr=1e-2, max_epochs=100, patience=5, verbose=0
    )
    assert_all_equal(start, values(base_variables(model)))
    assert_all_changed(head, values(model.head.weights))
    # Early stopping chose the epochs; the kept run trained exactly that
    # many, on all the data, from the head's initial weights.
    assert 1 <= history.converged_epochs < 100
    assert len(history.epoch) == history.converged_epochs


def test_train_head_says_when_it_stopped_at_max_epochs(capsys):
    history = tlk.recipes.train_head(
        fresh(), X, Y, (XV, YV), lr=1e-4, max_epochs=2, verbose=2
    )
    out = capsys.readouterr().out
    capped = history.converged_epochs == 2
    assert capped  # at this rate the loss still falls after two epochs
    assert "validation loss was still improving at epoch 2 (max_epochs)" in out
    tlk.recipes.train_head(fresh(), X, Y, lr=1e-4, max_epochs=2, verbose=2)
    out = capsys.readouterr().out
    assert "held-out loss was still improving at epoch 2 (max_epochs)" in out
    # Converged before the cap: no such line; silent with verbose=0.
    history = tlk.recipes.train_head(
        fresh(), X, Y, (XV, YV), lr=1e-1, max_epochs=100, patience=2, verbose=2
    )
    assert history.converged_epochs < 100
    assert "still improving" not in capsys.readouterr().out
    tlk.recipes.train_head(fresh(), X, Y, (XV, YV), max_epochs=2, verbose=0)
    assert capsys.readouterr().out == ""


def test_train_head_keeps_the_best_validation_epoch():
    model = fresh()
    seen = []

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((logs["val_loss"], values(model.head.weights)))

    history = tlk.recipes.train_head(
        model,
        X,
        Y,
        (XV, YV),
        patience=3,
        callbacks=[Snapshot()],
        verbose=0,
    )
    losses = [loss for loss, _ in seen]
    best = int(np.argmin(losses))
    assert history.converged_epochs == best + 1
    assert len(seen) == best + 1 + 3  # stopped `patience` epochs later
    assert_all_equal(seen[best][1], values(model.head.weights))


def test_fine_tune_defaults_run_the_stages_in_order():
    model = fresh()
    start = values(base_variables(model))
    after = {}

    class Record(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            # Stage 2's fit begins: the head stage left the base as it was.
            after["stage 2 begins"] = values(base_variables(model))
            after["head"] = values(model.head.weights)

    history = tlk.recipes.fine_tune(
        model,
        (X, Y),
        fine_tune_epochs=2,
        target="near",
        callbacks=[Record()],
        batch_size=8,
        verbose=0,
    )
    assert_all_equal(start, after["stage 2 begins"])
    assert history.stage_starts == [0, history.converged_epochs]
    assert history.epoch[-2:] == [
        history.converged_epochs,
        history.converged_epochs + 1,
    ]
    kernels = [
        (a, v)
        for a, v in zip(after["stage 2 begins"], base_variables(model))
        if "kernel" in v.path
    ]
    assert_all_changed([a for a, _ in kernels], values(v for _, v in kernels))
    # Stage 2 runs at lr / 100, everything trainable, BN statistics fixed.
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-5)
    bn = [v for v in base_variables(model) if "moving" in v.path]
    assert_all_equal(
        [a for a, v in zip(start, base_variables(model)) if "moving" in v.path],
        values(bn),
    )


def test_fine_tune_says_each_stage_as_it_begins(capsys):
    options = dict(
        fine_tune_epochs=2,
        target="near",
        max_head_epochs=10,
        batch_size=8,
    )
    history = tlk.recipes.fine_tune(
        fresh(), (X, Y), (XV, YV), verbose=2, **options
    )
    lines = capsys.readouterr().out.splitlines()
    stages = [i for i, line in enumerate(lines) if line.startswith("Stage")]
    epochs = [i for i, line in enumerate(lines) if line.startswith("Epoch ")]
    head = history.converged_epochs
    assert len(stages) == 2 and stages[0] < epochs[0]
    computing = [line for line in lines if line.startswith("Computing")]
    assert computing == [
        "Computing training features:",
        "Computing validation features:",
    ]
    assert lines[stages[0]] == (
        "Stage 1/2: the head alone, on cached features until its validation "
        "loss stops improving (at most 10 epochs)."
    )
    # Stage 2 begins after the head's epochs, numbered on from the kept one.
    assert lines[stages[1] + 1] == f"Epoch {head + 1}/{head + 2}"
    assert lines[stages[1]] == (
        "Stage 2/2: fine-tuning the whole network (lr 1e-05, BN statistics "
        f"fixed), epochs {head + 1}-{head + 2}, the best epoch kept."
    )
    tlk.recipes.fine_tune(fresh(), (X, Y), (XV, YV), verbose=0, **options)
    assert capsys.readouterr().out == ""


def test_fine_tuning_that_hurts_is_undone_with_validation_data():
    probe = fresh()
    tlk.recipes.fine_tune(
        probe,
        (X, Y),
        (XV, YV),
        fine_tune_epochs=0,
        max_head_epochs=30,
        batch_size=8,
        verbose=0,
    )
    probe_loss = probe.evaluate(XV, YV, verbose=0)[0]
    for keep_best in (True, False):
        model = fresh()
        history = tlk.recipes.fine_tune(
            model,
            (X, Y),
            (XV, YV),
            fine_tune_epochs=2,
            fine_tune_lr=50.0,  # destroys what the head learned
            target="near",
            max_head_epochs=30,
            keep_best=keep_best,
            batch_size=8,
            verbose=0,
        )
        stage_2 = history.history["val_loss"][history.stage_starts[1] :]
        assert min(stage_2) > probe_loss
        loss = model.evaluate(XV, YV, verbose=0)[0]
        expected = probe_loss if keep_best else stage_2[-1]
        assert loss == pytest.approx(expected, rel=1e-5)
        # The History says which epoch the model ends with: the head's.
        kept = history.converged_epochs - 1 if keep_best else None
        assert history.best_epoch == kept


def test_head_epochs_and_holdout_errors():
    model = fresh()
    with pytest.raises(ValueError, match=r"int >= 0 or 'auto'.*head_epochs=-1"):
        tlk.recipes.fine_tune(model, (X, Y), head_epochs=-1)
    with pytest.raises(ValueError, match="holdout=0.0"):
        tlk.recipes.train_head(model, X, Y, holdout=0.0)
    flip = keras.layers.RandomFlip()
    for augmented in (
        tlk.data.image_dataset(
            (X, Y), image_size=(16, 16), augment="light", seed=0
        ),
        # A user's own pipeline that augments counts the same.
        tf.data.Dataset.from_tensor_slices((X, Y))
        .batch(8)
        .map(lambda x, y: (flip(x), y)),
    ):
        with pytest.raises(ValueError, match="Pass `validation_data`"):
            tlk.recipes.train_head(model, augmented, verbose=0)
        with pytest.raises(ValueError, match="Pass `validation_data`"):
            tlk.recipes.fine_tune(model, augmented, verbose=0)  # first


@pytest.mark.parametrize(
    "per_class, recipe", [(10, "linear_probe"), (50, "fine_tune")]
)
def test_auto_picks_by_examples_per_class_on_a_near_task(
    per_class, recipe, capsys, monkeypatch
):
    # A near task: the measurement never finds "far" clearly better.
    monkeypatch.setattr(tlk.recipes.target, "MARGIN", 1.0)
    x, y = image_data(n=3 * per_class, num_classes=3)
    model = fresh()
    history = tlk.recipes.auto(model, (x, y), fine_tune_epochs=1, batch_size=16)
    assert history.recipe == recipe and history.target == "near"
    losses = history.target_losses
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith(
        f"tlkeras.recipes.auto: {3 * per_class} training examples, "
        f"{per_class} per class, held-out loss {losses['near']:.3g} "
        f"fine-tuning gently, {losses['far']:.3g} at the head's rate: "
        f"{recipe} (a near task"
    )
    base_changed = not all(
        np.array_equal(a, b)
        for a, b in zip(
            values(base_variables(fresh())), values(base_variables(model))
        )
    )
    assert base_changed == (recipe == "fine_tune")


def test_tta_flip_averages_the_mirror_images():
    model = fresh()
    manual = (
        model.predict(XV, verbose=0) + model.predict(XV[:, :, ::-1], verbose=0)
    ) / 2
    np.testing.assert_allclose(
        tlk.predict(model, XV, tta="flip"), manual, rtol=1e-5, atol=1e-6
    )
    assert not np.allclose(tlk.predict(model, XV), manual, atol=1e-6)
    report = tlk.evaluation.report(model, XV, YV, tta="flip", top_k=())
    assert report.metrics["accuracy"] == pytest.approx(
        float(np.mean(manual.argmax(1) == YV))
    )
    # The report says how its predictions were made.
    assert report.tta == report.to_dict()["tta"] == "flip"
    assert str(report).splitlines()[0].endswith("test-time augmentation 'flip'")
    assert tlk.evaluation.report(model, XV, YV, top_k=()).tta is None
    with pytest.raises(ValueError, match=r"`tta` must be one of.*'rotate'"):
        tlk.predict(model, XV, tta="rotate")
    dense = tlk.build_classifier(
        keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)]), 2
    )
    with pytest.raises(ValueError, match="mirrors images"):
        tlk.predict(dense, np.ones((2, 4), "float32"), tta="flip")


def test_auto_reads_a_dataset_once_to_measure(monkeypatch):
    # Counting its labels and holding a share out share one pass; the
    # recipe then makes its own (the probe's feature pass).
    monkeypatch.setattr(tlk.recipes.target, "MARGIN", 1.0)  # near
    monkeypatch.setattr(tlk.recipes.target, "CROSS_VALIDATE_BELOW", 0)
    passes = []

    def count(y):
        passes.append(1)
        return y

    data = (
        tf.data.Dataset.from_tensor_slices((X, Y))
        .batch(16)
        .map(lambda x, y: (x, tf.py_function(count, [y], y.dtype)))
    )
    history = tlk.recipes.auto(fresh(), data, fine_tune_epochs=1, verbose=0)
    assert history.recipe == "linear_probe"
    # 3 batches, twice (measure, then train), and one more batch read for
    # its size. Before: the labels were counted in a pass of their own.
    assert len(passes) == 2 * 3 + 1
    # Data that augments cannot be held out of: refused before measuring.
    augmented = tlk.data.image_dataset(
        (X, Y), image_size=(16, 16), augment="light", seed=0
    )
    module = sys.modules["tlkeras.recipes.auto"]
    monkeypatch.setattr(module, "measure_target", None)  # never reached
    with pytest.raises(ValueError, match="Pass `validation_data`"):
        tlk.recipes.auto(fresh(), augmented, verbose=0)
