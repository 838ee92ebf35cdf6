"""TransferHyperModel: real searches with each tuner class, cached
features, the base read once, the search space."""

import gc

import keras
import keras_tuner
import numpy as np
import pytest
import tensorflow as tf

import tlkeras as tlk
from tests.conftest import MOBILENET_V2_035
from tests.helpers import assert_all_equal
from tests.helpers import image_data
from tests.helpers import tiny_cnn
from tests.helpers import values
from tlkeras.bases import resolve as resolve_module
from tlkeras.builders.head_checkpoint import is_head_checkpoint


@pytest.fixture(scope="module")
def data():
    train = image_data(n=24, num_classes=2, seed=0)
    val = image_data(n=12, num_classes=2, seed=1)
    return train, val


@pytest.fixture(scope="module")
def base():
    return tiny_cnn()


def _search(tuner_class, hm, data, tmp_path, **kwargs):
    (x, y), val = data
    tuner = tuner_class(
        hm,
        objective="val_accuracy",
        directory=str(tmp_path),
        project_name=tuner_class.__name__,
        seed=0,
        **kwargs,
    )
    tuner.search(x, y, validation_data=val, epochs=2, verbose=0)
    return tuner


@pytest.mark.parametrize(
    "tuner_class, kwargs",
    [
        (keras_tuner.RandomSearch, {"max_trials": 3}),
        (keras_tuner.BayesianOptimization, {"max_trials": 3}),
        (keras_tuner.Hyperband, {"max_epochs": 2, "hyperband_iterations": 1}),
    ],
)
def test_search_with_each_tuner(tuner_class, kwargs, data, base, tmp_path):
    hm = tlk.tuning.TransferHyperModel(
        base, 2, input_shape=(16, 16, 3), search={"head_layers": [0, 1]}
    )
    tuner = _search(tuner_class, hm, data, tmp_path, **kwargs)
    trials = tuner.oracle.get_best_trials(10)
    assert len(trials) >= 2
    assert all(t.score is not None for t in trials)
    best = tuner.get_best_models(1)[0]
    fresh = tlk.build_classifier(base, 2, input_shape=(16, 16, 3))
    groups = tlk.layer_groups(best)
    assert [g.name for g in groups] == [g.name for g in tlk.layer_groups(fresh)]
    unfrozen = tuner.get_best_hyperparameters(1)[0]["unfreeze"]
    assert [g.trainable for g in groups[:-1]].count(True) == unfrozen
    # The checkpoint restored into the rebuilt model is the trial's best.
    _, val = data
    accuracy = best.evaluate(*val, verbose=0)[1]
    assert accuracy == pytest.approx(trials[0].score)


def test_frozen_trials_reuse_cached_features(data, base, tmp_path):
    hm = tlk.tuning.TransferHyperModel(
        base, 2, input_shape=(16, 16, 3), search={"unfreeze": 0}
    )
    tuner = _search(keras_tuner.RandomSearch, hm, data, tmp_path, max_trials=3)
    assert len(tuner.oracle.trials) == 3
    assert hm.feature_computations == 2  # training and validation, once
    best = tuner.get_best_models(1)[0]
    assert_all_equal(values(base.weights), values(best.base.weights))
    # Each trial's checkpoint is its head alone, and the full model
    # restored from it scores what the trial's best epoch scored, also in
    # a new session (a new hypermodel and tuner reading the directory).
    trial = tuner.oracle.get_best_trials(1)[0]
    assert is_head_checkpoint(tuner._get_checkpoint_fname(trial.trial_id))
    _, val = data
    assert best.evaluate(*val, verbose=0)[1] == pytest.approx(trial.score)
    again = keras_tuner.RandomSearch(
        tlk.tuning.TransferHyperModel(
            base, 2, input_shape=(16, 16, 3), search={"unfreeze": 0}
        ),
        objective="val_accuracy",
        max_trials=3,
        directory=str(tmp_path),
        project_name="RandomSearch",
        overwrite=False,
    )
    # The same trial (trials tied on the score may come back in another
    # order from the reloaded oracle).
    reloaded = again.load_model(again.oracle.get_trial(trial.trial_id))
    np.testing.assert_array_equal(
        reloaded.predict(val[0], verbose=0), best.predict(val[0], verbose=0)
    )


def test_frozen_trials_on_augmenting_data_train_the_full_model(
    data, base, tmp_path
):
    # Cached features would freeze one random draw: the trials train the
    # full model, augmentation live, and say so once.
    (x, y), val = data
    flip = keras.layers.RandomFlip()
    augmented = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .batch(8)
        .map(lambda a, b: (flip(a), b))
    )
    hm = tlk.tuning.TransferHyperModel(
        base, 2, input_shape=(16, 16, 3), search={"unfreeze": 0}
    )
    tuner = keras_tuner.RandomSearch(
        hm,
        objective="val_accuracy",
        max_trials=2,
        directory=str(tmp_path),
        seed=0,
    )
    with pytest.warns(UserWarning, match="freeze one draw") as caught:
        tuner.search(augmented, validation_data=val, epochs=1, verbose=0)
    assert sum("freeze one draw" in str(w.message) for w in caught) == 1
    assert len(tuner.oracle.trials) == 2
    assert hm.feature_computations == 0
    best = tuner.get_best_models(1)[0]
    assert_all_equal(values(base.weights), values(best.base.weights))


def test_unfrozen_trials_train_the_base(data, base, tmp_path):
    hm = tlk.tuning.TransferHyperModel(
        base, 2, input_shape=(16, 16, 3), search={"unfreeze": 1}
    )
    tuner = _search(keras_tuner.RandomSearch, hm, data, tmp_path, max_trials=1)
    best = tuner.get_best_models(1)[0]
    top = tlk.layer_groups(best)[-2]
    assert top.trainable and hm.feature_computations == 0
    original = {v.path: v for v in base.weights}
    changed = [
        not np.array_equal(v.numpy(), original[v.path].numpy())
        for v in top.trainable_variables
    ]
    assert any(changed)


def test_pretrained_base_is_read_once(mobilenet_v2_weights, monkeypatch):
    calls = []
    real = resolve_module._build_application

    def counting(spec, input_shape, weights, base_kwargs):
        calls.append(weights)
        return real(spec, input_shape, weights, base_kwargs)

    monkeypatch.setattr(resolve_module, "_build_application", counting)
    hm = tlk.tuning.TransferHyperModel(
        "mobilenet_v2",
        2,
        input_shape=(32, 32, 3),
        weights=mobilenet_v2_weights,
        base_kwargs={"alpha": 0.35},
    )
    reference = keras.applications.MobileNetV2(
        input_shape=(32, 32, 3),
        alpha=0.35,
        include_top=False,
        weights=mobilenet_v2_weights,
    )
    for seed in range(3):
        hp = keras_tuner.HyperParameters()
        hp.values["unfreeze"] = seed
        model = hm.build(hp)
        assert_all_equal(values(reference.weights), values(model.base.weights))
    assert [w for w in calls if w is not None] == [mobilenet_v2_weights]
    assert MOBILENET_V2_035 in mobilenet_v2_weights


def test_search_space_overrides(base):
    hm = tlk.tuning.TransferHyperModel(
        base,
        2,
        input_shape=(16, 16, 3),
        search={
            "unfreeze": 0,
            "units": [32, 64],
            "learning_rate": (1e-3, 1e-2),
            "head_layers": (1, 2),
        },
    )
    hp = keras_tuner.HyperParameters()
    hm.build(hp)
    space = {p.name: p for p in hp.space}
    assert type(space["unfreeze"]).__name__ == "Fixed"
    assert space["units"].values == [32, 64]
    assert (
        space["learning_rate"].min_value,
        space["learning_rate"].sampling,
    ) == (
        1e-3,
        "log",
    )
    assert (space["head_layers"].min_value, space["head_layers"].max_value) == (
        1,
        2,
    )
    assert space["optimizer"].values == ["adam", "adamw", "sgd"]
    assert space["unfreeze"].value == 0


def test_bad_search_names_the_key(base):
    with pytest.raises(ValueError, match="'dropuot'.*dropout"):
        tlk.tuning.TransferHyperModel(
            base, 2, input_shape=(16, 16, 3), search={"dropuot": 0.1}
        )
    with pytest.raises(ValueError, match=r"\(low, high\)"):
        tlk.tuning.TransferHyperModel(
            base, 2, input_shape=(16, 16, 3), search={"dropout": (0.5, 0.1)}
        )


def test_frozen_trials_build_only_their_head(data, base):
    hm = tlk.tuning.TransferHyperModel(
        base, 2, input_shape=(16, 16, 3), search={"head_layers": 0}
    )
    hp = keras_tuner.HyperParameters()
    hp.Fixed("unfreeze", 0)
    first, second = hm.build(hp), hm.build(hp)
    # One frozen base serves every frozen-base trial; each has its own head.
    assert first.base is second.base
    assert first.head is not second.head
    assert not first.base.trainable_variables
    # A trial that trains the base gets a base of its own, so it can never
    # move the shared one.
    hp_unfrozen = keras_tuner.HyperParameters()
    hp_unfrozen.Fixed("unfreeze", 1)
    unfrozen = hm.build(hp_unfrozen)
    assert unfrozen.base is not first.base
    shared = values(first.base.weights)
    (x, y), _ = data
    unfrozen.fit(x, y, epochs=1, verbose=0)
    assert_all_equal(shared, values(first.base.weights))
    assert_all_equal(values(base.weights), shared)


def test_trials_leave_no_graph_on_the_shared_base(data, base, tmp_path):
    # Keras keeps a node on a layer for every functional model built with
    # it: without cleanup, each frozen trial's graph stayed reachable from
    # the shared base (memory and garbage collection grew with the trials).
    hm = tlk.tuning.TransferHyperModel(
        base, 2, input_shape=(16, 16, 3), search={"head_layers": 0}
    )
    hp = keras_tuner.HyperParameters()
    hp.Fixed("unfreeze", 0)
    kept = hm.build(hp)  # a model the user keeps, e.g. a best model
    shared = kept.base
    start = len(shared._inbound_nodes)
    hm.build(hp)
    gc.collect()
    per_model = len(shared._inbound_nodes) - start
    assert per_model >= 1
    for _ in range(4):
        hm.build(hp)
        gc.collect()
    # Only the newest (not yet released) trial's nodes remain with ours.
    assert len(shared._inbound_nodes) == start + per_model
    # The kept model's graph is intact: it saves and loads.
    (x, _), _ = data
    path = str(tmp_path / "kept.keras")
    kept.save(path)
    np.testing.assert_allclose(
        keras.saving.load_model(path).predict(x, verbose=0),
        kept.predict(x, verbose=0),
        atol=1e-6,
    )


def test_cached_trial_equals_fitting_the_full_model(data):
    """On a base with its preprocessing, a frozen trial trained on cached
    features ends with the head that fitting the whole model gives."""
    (x, y), val = data
    x32 = np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)
    hm = tlk.tuning.TransferHyperModel(
        "mobilenet_v2",
        2,
        input_shape=(32, 32, 3),
        weights=None,
        base_kwargs={"alpha": 0.35},
        # SGD: Adam's first steps divide by tiny second moments and turn
        # float noise into visible differences.
        search={
            "unfreeze": 0,
            "head_layers": 0,
            "dropout": 0.0,
            "l2": 0.0,
            "optimizer": "sgd",
            "learning_rate": 0.1,
        },
    )
    hp = keras_tuner.HyperParameters()
    cached = hm.build(hp)
    assert cached.preprocessing is not None
    plain = hm.build(hp)  # same space values; its own head
    plain.head.set_weights(cached.head.get_weights())
    hm.fit(hp, cached, x32, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    assert hm.feature_computations == 1
    plain.fit(x32, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(values(cached.head.weights), values(plain.head.weights)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
