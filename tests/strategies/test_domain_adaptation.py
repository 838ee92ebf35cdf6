"""Domain adaptation: each method beats source-only on a shifted problem;
gradient reversal, the ramp and its state; groups; save and resume."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tlkeras as tlk
from tests.helpers import Interrupt
from tlkeras.demo import digits_classifier
from tlkeras.demo import shifted_digits


def cnn():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(8, 3, padding="same")(inputs)
    return keras.Model(inputs, x, name="cnn")


def classifier():
    return digits_classifier()


@pytest.fixture(scope="module")
def shifted():
    """Digits as the source; the other half, with pixel noise, as the
    target (a style change the source never shows)."""
    return shifted_digits()


@pytest.fixture(scope="module")
def pretrained(shifted):
    """A model trained on the source, and the baseline: its target accuracy
    after as many more epochs on the source alone as adaptation gets, for
    each seed (training longer helps the target a little by itself)."""
    (x, y), (x_target, y_target) = shifted
    keras.utils.set_random_seed(1)
    model = classifier()
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(x, y, epochs=15, batch_size=64, verbose=0)
    weights = model.get_weights()
    source_only = []
    for seed in range(3):
        keras.utils.set_random_seed(seed)
        model = classifier()
        model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        model.fit(x, y, epochs=10, batch_size=64, verbose=0)
        source_only.append(accuracy(model, x_target, y_target))
    return weights, float(np.mean(source_only))


def accuracy(model, x, y):
    return float(np.mean(model.predict(x, verbose=0).argmax(-1) == y))


def adapt(method, shifted, weights, seed, epochs=10, **kwargs):
    (x, y), (x_target, _) = shifted
    keras.utils.set_random_seed(seed)
    model = classifier()
    model.set_weights(weights)
    da = tlk.strategies.DomainAdaptation(
        model, method, discriminator_units=(64, 64), **kwargs
    )
    da.compile(optimizer=keras.optimizers.Adam(1e-3))
    da.fit((x, x_target), y, batch_size=64, epochs=epochs, verbose=0)
    return model, da


# Transfer-loss weights per method: the papers tune this trade-off too.
WEIGHTS = {"dann": 0.3, "cdan": 1.0, "mmd": 1.0, "coral": 1.0, "mcc": 1.0}
_RUNS = {}


def runs(method, shifted, weights, weight=None):
    """Target and source accuracy and the final CORAL distance between the
    domains' features, for seeds 0-2 (memoized: several tests read them)."""
    weight = WEIGHTS.get(method, 1.0) if weight is None else weight
    key = (method, weight)
    if key not in _RUNS:
        (x, y), (x_target, y_target) = shifted
        target, source, distance = [], [], []
        for seed in range(3):
            model, da = adapt(method, shifted, weights, seed, weight=weight)
            target.append(accuracy(model, x_target, y_target))
            source.append(accuracy(model, x, y))
            features, _ = da._extractor.value.predict(
                np.concatenate([x[:512], x_target[:512]]), verbose=0
            )
            distance.append(
                float(tlk.losses.coral(features[:512], features[512:]))
            )
        _RUNS[key] = (np.mean(target), min(source), np.mean(distance))
    return _RUNS[key]


@pytest.mark.parametrize("method", tlk.strategies.ADAPTATION_METHODS)
def test_each_method_beats_source_only(method, shifted, pretrained):
    weights, source_only = pretrained
    target, worst_source, _ = runs(method, shifted, weights)
    assert target > source_only + 0.02, (target, source_only)
    assert worst_source > 0.85, worst_source  # the source is not forgotten


@pytest.mark.parametrize("method", ["dann", "cdan", "mmd", "mcc"])
def test_the_transfer_loss_is_what_helps(method, shifted, pretrained):
    # The same training with the transfer loss weighted 0 (source and
    # target batches still share BatchNormalization, which helps alone).
    weights, _ = pretrained
    ablated, _, _ = runs("coral", shifted, weights, weight=0.0)
    target, _, _ = runs(method, shifted, weights)
    assert target > ablated + 0.02, (target, ablated)


def test_coral_aligns_the_feature_covariances(shifted, pretrained):
    # On this shift CORAL's accuracy gain comes from the shared batches
    # (see the README); its loss still does its job: aligned covariances.
    weights, _ = pretrained
    _, _, ablated = runs("coral", shifted, weights, weight=0.0)
    _, _, aligned = runs("coral", shifted, weights, weight=1000.0)
    assert aligned < 0.5 * ablated, (aligned, ablated)


def test_gradient_reversal_is_the_identity_with_a_reversed_gradient():
    x = tf.constant(np.random.default_rng(0).normal(size=(5, 3)), "float32")
    for coefficient in (0.0, 0.3, 1.0):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tlk.strategies.gradient_reversal(x, coefficient)
            loss = tf.reduce_sum(y * tf.range(3, dtype="float32"))
        np.testing.assert_array_equal(y.numpy(), x.numpy())
        expected = -coefficient * np.tile(np.arange(3.0), (5, 1))
        np.testing.assert_allclose(tape.gradient(loss, x), expected)


def test_the_ramp_follows_ganin_and_survives_a_resume(shifted, tmp_path):
    (x, y), (x_target, _) = shifted
    x, y, x_target = x[:256], y[:256], x_target[:192]
    for step, total in ((0, 10), (3, 10), (10, 10), (15, 10)):
        p = min(step / total, 1.0)
        np.testing.assert_allclose(
            float(tlk.strategies.ganin_ramp(step / total)),
            2 / (1 + np.exp(-10 * p)) - 1,
            rtol=1e-6,
        )

    def wrapper():
        keras.utils.set_random_seed(0)
        da = tlk.strategies.DomainAdaptation(
            classifier(), "dann", discriminator_units=(8,)
        )
        da.compile(optimizer=keras.optimizers.Adam(1e-3))
        return da

    # 256 source examples in batches of 64: 4 steps per epoch.
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    da = wrapper()
    with pytest.raises(RuntimeError, match="interrupted"):
        da.fit(
            (x, x_target),
            y,
            batch_size=64,
            epochs=3,
            verbose=0,
            callbacks=[backup, Interrupt(1)],
        )
    assert float(da.progress.numpy()) == 8.0
    np.testing.assert_allclose(
        float(da.coefficient()), 2 / (1 + np.exp(-10 * 8 / 12)) - 1, rtol=1e-6
    )
    resumed = wrapper()
    resumed.fit(
        (x, x_target),
        y,
        batch_size=64,
        epochs=3,
        verbose=0,
        callbacks=[backup],
    )
    assert float(resumed.progress.numpy()) == 12.0  # 8 + the last epoch's 4
    # The wrapper saves whole, ramp state included.
    path = tmp_path / "da.keras"
    resumed.save(path)
    loaded = keras.saving.load_model(path)
    assert float(loaded.progress.numpy()) == 12.0
    assert loaded.method == "dann"
    np.testing.assert_array_equal(
        loaded.predict(x_target[:8], verbose=0),
        resumed.predict(x_target[:8], verbose=0),
    )


def test_the_wrapped_model_predicts_and_saves_alone(shifted, tmp_path):
    (x, y), (x_target, y_target) = shifted
    model = classifier()
    da = tlk.strategies.DomainAdaptation(model, "coral")
    da.compile()
    history = da.fit(
        (x[:128], x_target[:64]),
        y[:128],
        batch_size=32,
        epochs=1,
        validation_data=(x_target[:64], y_target[:64]),
        verbose=0,
    )
    assert {"task_loss", "transfer_loss", "val_accuracy"} <= set(
        history.history
    )
    np.testing.assert_array_equal(
        da.predict(x_target[:8], verbose=0),
        model.predict(x_target[:8], verbose=0),
    )
    model.save(tmp_path / "adapted.keras")
    loaded = keras.saving.load_model(tmp_path / "adapted.keras")
    assert isinstance(loaded, tlk.TransferModel)


def test_zipped_datasets_of_different_lengths(shifted):
    (x, y), (x_target, _) = shifted
    source = tf.data.Dataset.from_tensor_slices((x[:96], y[:96])).batch(32)
    target = tf.data.Dataset.from_tensor_slices(x_target[:320]).batch(32)
    zipped = tlk.data.zip_domains(source, target)
    assert int(zipped.cardinality()) == 10  # the longer; the source cycles
    da = tlk.strategies.DomainAdaptation(classifier(), "mmd")
    da.compile()
    da.fit(zipped, epochs=1, verbose=0)
    assert float(da.progress.numpy()) == 10.0


def test_groups_discriminative_rates_and_unfreezing(shifted):
    (x, y), (x_target, _) = shifted
    model = classifier()
    da = tlk.strategies.DomainAdaptation(
        model, "dann", discriminator_units=(8,)
    )
    groups = [g.name for g in tlk.layer_groups(da)]
    assert groups[-2:] == ["discriminator", "head"]
    base, heads = tlk.freezing.split_head_groups(da)
    assert [g.name for g in heads] == ["discriminator", "head"]
    optimizer = tlk.training.discriminative(da, lr=(1e-4, 1e-2))
    assert optimizer.multipliers["discriminator"] == 1.0
    tlk.freezing.freeze_base(da)
    da.compile(optimizer=optimizer)
    frozen = [v.numpy().copy() for v in model.base.weights]
    unfreeze = tlk.callbacks.ProgressiveUnfreezing(
        {1: tlk.freezing.TrainTop(1)}
    )
    da.fit(
        (x[:128], x_target[:128]),
        y[:128],
        batch_size=32,
        epochs=2,
        verbose=0,
        callbacks=[unfreeze],
    )
    last = {id(v) for v in base[-1].variables}
    moved = [
        not np.array_equal(a, v.numpy())
        for a, v in zip(frozen, model.base.weights)
        if id(v) in last and v.trainable
    ]
    assert moved and all(moved)


def test_bad_arguments(shifted):
    with pytest.raises(ValueError, match="method='dan'"):
        tlk.strategies.DomainAdaptation(classifier(), "dan")
    with pytest.raises(ValueError, match="weight=-1"):
        tlk.strategies.DomainAdaptation(classifier(), "mmd", weight=-1)
    regressor = tlk.build_regressor(cnn(), freeze="none")
    with pytest.raises(ValueError, match="'cdan' needs class"):
        tlk.strategies.DomainAdaptation(regressor, "cdan")
    with pytest.raises(ValueError, match="No layer named 'pool'"):
        plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        tlk.strategies.DomainAdaptation(plain, "mmd", features="pool")
