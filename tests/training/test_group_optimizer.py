"""Per-group optimizers inside `model.fit`."""

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

X, Y = image_data(n=32, size=16)


def model_pair(freeze="none"):
    """Two identical models (same initial weights)."""
    keras.utils.set_random_seed(7)
    a = tlk.build_classifier(tiny_cnn(), 3, freeze=freeze)
    b = tlk.build_classifier(tiny_cnn(), 3, freeze=freeze)
    b.set_weights(a.get_weights())
    return a, b


def fit(model, epochs=2, **kwargs):
    return model.fit(
        X, Y, batch_size=8, epochs=epochs, shuffle=False, verbose=0, **kwargs
    )


def group_names(model):
    return [g.name for g in tlk.layer_groups(model)]


def test_equal_rates_match_a_single_optimizer_bit_for_bit():
    single, grouped = model_pair()
    single.compile(optimizer=keras.optimizers.Adam(1e-2))
    n = len(group_names(grouped))
    grouped.compile(
        optimizer=tlk.training.discriminative(grouped, "adam", lr=[1e-2] * n)
    )
    fit(single)
    fit(grouped)
    assert_all_equal(values(single.weights), values(grouped.weights))


def test_zero_rate_group_never_moves():
    model, _ = model_pair()
    optimizer = tlk.training.discriminative(
        model, "adam", lr=[0.0, 1e-2, 1e-2, 1e-2]
    )
    assert "conv_a" not in optimizer.group_optimizers
    conv_a = tlk.layer_groups(model)[0]
    # The factory leaves the flags alone (tests/training/test_pure_factories).
    assert conv_a.trainable
    before = values(conv_a.variables)
    model.compile(optimizer=optimizer)
    fit(model)
    assert_all_equal(before, values(conv_a.variables))
    assert not [v for v in optimizer.variables if "conv_a" in v.name]


def test_sgd_momentum_update_matches_hand_computation():
    keras.utils.set_random_seed(3)
    base = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, name="hidden")]
    )
    model = tlk.build_regressor(base, 1, freeze="none")
    lr, momentum = {"hidden": 0.05, "head": 0.2}, 0.9
    model.compile(
        optimizer=tlk.training.per_group(
            model,
            {
                name: keras.optimizers.SGD(rate, momentum=momentum)
                for name, rate in lr.items()
            },
        ),
        loss="mse",
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 4)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    groups = {g.name: g.trainable_variables for g in tlk.layer_groups(model)}
    weights = {k: values(v) for k, v in groups.items()}
    velocity = {k: [np.zeros_like(w) for w in ws] for k, ws in weights.items()}
    for _ in range(3):
        # The hand-computed step, from the same weights.
        names = list(groups)
        with tf.GradientTape() as tape:
            loss = keras.losses.MeanSquaredError()(y, model(x, training=True))
        flat = tape.gradient(loss, [v for n in names for v in groups[n]])
        grads, start = {}, 0
        for name in names:
            grads[name] = flat[start : start + len(groups[name])]
            start += len(groups[name])
        for name in groups:
            for i, g in enumerate(grads[name]):
                velocity[name][i] = (
                    momentum * velocity[name][i] - lr[name] * g.numpy()
                )
                weights[name][i] = weights[name][i] + velocity[name][i]
        model.train_on_batch(x, y)
        for name in groups:
            for expected, got in zip(weights[name], values(groups[name])):
                np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


def test_spreads_follow_fastai_and_timm():
    model, _ = model_pair()
    fastai = tlk.training.discriminative(model, "adam", lr=(1e-5, 1e-3))
    rates = [float(o.learning_rate) for o in fastai.optimizers]
    expected = [1e-5 * (1e-3 / 1e-5) ** (i / 3) for i in range(4)]
    np.testing.assert_allclose(rates, expected, rtol=1e-6)
    one = tlk.training.discriminative(model, "adam", lr=1e-3)
    np.testing.assert_allclose(
        [float(o.learning_rate) for o in one.optimizers],
        [1e-4, 1e-4, 1e-4, 1e-3],
        rtol=1e-6,
    )
    timm = tlk.training.discriminative(model, "sgd", lr=1e-2, decay=0.5)
    np.testing.assert_allclose(
        [float(o.learning_rate) for o in timm.optimizers],
        [1.25e-3, 2.5e-3, 5e-3, 1e-2],
        rtol=1e-6,
    )
    assert all(type(o) is keras.optimizers.SGD for o in timm.optimizers)


def test_schedules_are_scaled_per_group():
    model, _ = model_pair()
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-2, 2, 0.5)
    optimizer = tlk.training.discriminative(
        model, "adam", lr=schedule, decay=0.5
    )
    model.compile(optimizer=optimizer)
    fit(model, epochs=1)  # 4 steps
    rates = optimizer.group_learning_rates()
    for name, multiplier in optimizer.multipliers.items():
        assert rates[name] == pytest.approx(
            float(schedule(4)) * multiplier, rel=1e-6
        )


def test_keras_lr_callbacks_keep_the_spread_and_logs_name_groups():
    model, _ = model_pair()
    optimizer = tlk.training.discriminative(model, "adam", lr=(1e-4, 1e-2))
    model.compile(optimizer=optimizer)
    before = optimizer.group_learning_rates()
    history = fit(
        model,
        callbacks=[
            keras.callbacks.ReduceLROnPlateau(
                monitor="loss", factor=0.5, patience=0, min_delta=100
            )
        ],
    )
    after = optimizer.group_learning_rates()
    for name in before:
        assert after[name] == pytest.approx(before[name] / 2, rel=1e-6)
    assert history.history["lr/head"] == pytest.approx([1e-2, 5e-3], rel=1e-6)
    assert set(history.history) >= {f"lr/{n}" for n in group_names(model)}
    history = fit(
        model,
        epochs=2,
        callbacks=[tlk.callbacks.LearningRateScheduler(lambda epoch: 1e-3)],
    )
    rates = optimizer.group_learning_rates()
    assert rates["head"] == pytest.approx(1e-3, rel=1e-6)
    assert rates["conv_a"] == pytest.approx(1e-5, rel=1e-5)
    tlk.training.set_learning_rate(model.optimizer, 2e-3)
    assert optimizer.group_learning_rates()["conv_a"] == pytest.approx(
        2e-5, rel=1e-5
    )


def test_a_group_unfrozen_mid_run_gets_state_without_touching_others():
    model, _ = model_pair(freeze=1)
    optimizer = tlk.training.discriminative(model, "adam", lr=(1e-4, 1e-2))
    model.compile(optimizer=optimizer)
    fit(model, epochs=1)
    sub = optimizer.group_optimizers
    assert not sub["conv_a"].built and not sub["conv_b"].built  # no state
    kept = {name: values(sub[name].variables) for name in ("conv_c", "head")}
    tlk.freezing.set_trainable(model, "conv_b", True)
    tlk.training.sync_trainable(model)  # what the next fit does first
    assert model.optimizer is optimizer
    for name, before in kept.items():
        assert_all_equal(before, values(sub[name].variables))
    assert sub["conv_b"].built and not sub["conv_a"].built
    conv_b = tlk.layer_groups(model)[1].trainable_variables
    before = values(conv_b)
    fit(model, epochs=1)
    assert_all_changed(before, values(conv_b))
    assert float(sub["conv_b"].learning_rate) == pytest.approx(
        1e-4 * 10 ** (2 / 3), rel=1e-5
    )


def test_global_clipnorm_is_one_norm_across_groups():
    single, grouped = model_pair()
    single.compile(optimizer=keras.optimizers.SGD(0.1, global_clipnorm=0.01))
    n = len(group_names(grouped))
    optimizer = tlk.training.discriminative(
        grouped, "sgd", lr=[0.1] * n, global_clipnorm=0.01
    )
    assert optimizer.global_clipnorm == 0.01
    assert all(o.global_clipnorm is None for o in optimizer.optimizers)
    grouped.compile(optimizer=optimizer)
    fit(single)
    fit(grouped)
    for a, b in zip(values(single.weights), values(grouped.weights)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_mixed_precision_wraps_the_group_optimizer():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model, _ = model_pair()
        model.compile(
            optimizer=tlk.training.discriminative(
                model, "adam", lr=(1e-4, 1e-2)
            )
        )
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        # What the policy changes: float16 compute, float32 variables and
        # float32 outputs (the head's last activation), a loss scale
        # (built with the optimizer, on the first step).
        conv = model.base.get_layer("conv_a")
        assert conv.compute_dtype == "float16"
        assert conv.kernel.dtype == "float32"
        assert model.output.dtype == "float32"
        before = values(model.trainable_variables)
        history = fit(model)
        assert float(model.optimizer.dynamic_scale) > 1.0
        assert np.isfinite(history.history["loss"]).all()
        assert "lr/head" in history.history
        assert_all_changed(before, values(model.trainable_variables))
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_jit_compile_gives_the_same_training():
    plain, jitted = model_pair()
    for model, jit in ((plain, False), (jitted, True)):
        model.compile(
            optimizer=tlk.training.discriminative(
                model, "adam", lr=(1e-4, 1e-2)
            ),
            jit_compile=jit,
        )
        fit(model, epochs=1)
    for a, b in zip(values(plain.weights), values(jitted.weights)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_class_and_sample_weights_and_validation_work():
    model, _ = model_pair()
    model.compile(
        optimizer=tlk.training.discriminative(model, "adam", lr=(1e-4, 1e-2))
    )
    history = model.fit(
        X,
        Y,
        batch_size=8,
        epochs=1,
        verbose=0,
        class_weight={0: 1.0, 1: 2.0, 2: 0.5},
        validation_data=(X[:8], Y[:8]),
    )
    assert "val_accuracy" in history.history
    model.fit(X, Y, sample_weight=np.linspace(0, 1, 32), verbose=0)


def test_class_weights_act_as_their_sample_weights():
    weights = {0: 1.0, 1: 3.0, 2: 0.2}
    by_class, by_sample = model_pair()
    plain, _ = model_pair()
    for model in (by_class, by_sample, plain):
        model.compile(
            optimizer=tlk.training.discriminative(model, "sgd", lr=(1e-3, 1e-1))
        )
    fit(by_class, class_weight=weights)
    fit(by_sample, sample_weight=np.array([weights[int(y)] for y in Y]))
    fit(plain)
    for a, b in zip(values(by_class.weights), values(by_sample.weights)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    head = [v.path for v in by_class.head.trainable_weights]
    moved = [
        not np.allclose(a, b)
        for v, a, b in zip(
            by_class.weights, values(by_class.weights), values(plain.weights)
        )
        if v.path in head
    ]
    assert moved and all(moved)  # the weights changed the training


def test_zero_sample_weights_leave_every_weight_alone():
    model, _ = model_pair()
    model.compile(
        optimizer=tlk.training.discriminative(model, "adam", lr=(1e-3, 1e-2))
    )
    before = values(model.trainable_variables)
    fit(model, sample_weight=np.zeros(len(Y)))
    assert_all_equal(before, values(model.trainable_variables))


def test_errors_name_the_groups():
    model, _ = model_pair()
    with pytest.raises(
        ValueError,
        match=r"No layer group named \['conv9'\]"
        r".*\['conv_a', 'conv_b', 'conv_c', 'head'\]",
    ):
        tlk.training.per_group(model, {"conv9": keras.optimizers.SGD()})
    with pytest.raises(
        ValueError,
        match=r"belong to groups without an "
        r"optimizer: \['conv_a/kernel'",
    ):
        tlk.training.per_group(model, {"head": keras.optimizers.SGD()})
    with pytest.raises(ValueError, match="has 2 entries but the model has 4"):
        tlk.training.per_group(model, [keras.optimizers.SGD()] * 2)
    with pytest.raises(ValueError, match="one rate per group: 4"):
        tlk.training.discriminative(model, lr=[1e-3, 1e-2])
    with pytest.raises(ValueError, match="`decay` must be in"):
        tlk.training.discriminative(model, lr=1e-3, decay=1.5)
    with pytest.raises(TypeError, match="Received: optimizer=3"):
        tlk.training.discriminative(model, optimizer=3)
    other = tlk.build_classifier(tiny_cnn(), 3, freeze="none")
    other.get_layer("head")  # a different model with its own variables
    alien = tlk.training.per_group(
        keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]),
        {"head": keras.optimizers.SGD()},
    )
    other.compile(optimizer=alien)
    with pytest.raises(ValueError, match="belong to no layer group"):
        fit(other, epochs=1)


def test_per_group_with_default_and_explicit_optimizers():
    model, _ = model_pair()
    sgd = keras.optimizers.SGD(1e-3, momentum=0.9)
    optimizer = tlk.training.per_group(
        model, {"head": keras.optimizers.Adam(1e-2)}, default=sgd
    )
    assert [
        optimizer.group_optimizers[n] is sgd for n in group_names(model)
    ] == [True, True, True, False]
    assert optimizer.multipliers["conv_a"] == pytest.approx(0.1)
    model.compile(optimizer=optimizer)
    before = values(model.trainable_variables)
    fit(model, epochs=1)
    assert_all_changed(before, values(model.trainable_variables))


def test_warmup_cosine_schedule_keeps_ratios_at_every_step():
    model, _ = model_pair()
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=8, warmup_target=1e-2, warmup_steps=4
    )
    optimizer = tlk.training.discriminative(
        model, "adam", lr=schedule, decay=0.5
    )
    model.compile(optimizer=optimizer)
    seen = []
    for step in range(1, 7):
        model.train_on_batch(X[:8], Y[:8])
        rates = optimizer.group_learning_rates()
        seen.append(rates["head"])
        for name, multiplier in optimizer.multipliers.items():
            assert rates[name] == pytest.approx(
                float(schedule(step)) * multiplier, rel=1e-5, abs=1e-12
            )
    assert seen[2] > seen[0] and seen[5] < seen[3]  # warm-up, then decay


def test_same_weights_as_keras_multi_optimizer():
    """Keras's own MultiOptimizer, one Adam per layer group mapped by a
    regex over variable paths, at the rates `discriminative` gives: one
    epoch later the weights are bit-identical (the README's benchmark
    compares their speed on that basis)."""
    import re

    x, y = image_data(n=32, num_classes=3)
    keras.utils.set_random_seed(3)
    first = tlk.build_classifier(tiny_cnn(), 3, freeze="none", bn="frozen")
    second = tlk.build_classifier(tiny_cnn(), 3, freeze="none", bn="frozen")
    second.set_weights(first.get_weights())
    ours = tlk.training.discriminative(first, "adam", lr=1e-3, decay=0.5)
    rates = ours.group_learning_rates()
    mapping = {}
    for group in tlk.layer_groups(second):
        names = "|".join(
            re.escape(layer.name) for layer in group.layers if layer.weights
        )
        mapping[f"(?:{names})/.*"] = keras.optimizers.Adam(rates[group.name])
    head = mapping.pop(next(reversed(mapping)))
    theirs = keras.optimizers.MultiOptimizer(
        keras.optimizers.OptimizerMap(head, mapping)
    )
    for model, optimizer in ((first, ours), (second, theirs)):
        model.compile(optimizer=optimizer)
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert_all_equal(values(first.weights), values(second.weights))
