"""TransferHyperModel: real searches with each tuner class, cached
features, the base read once, the search space."""

import keras
import keras_tuner
import numpy as np
import pytest

import tlkeras as tlk
from tests.conftest import MOBILENET_V2_035
from tests.helpers import assert_all_equal
from tests.helpers import image_data
from tests.helpers import tiny_cnn
from tests.helpers import values
from tlkeras.bases import resolve as resolve_module


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
