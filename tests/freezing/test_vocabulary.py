"""One freeze-policy vocabulary: every entry point reads every form alike."""

import keras
import pytest

import tlkeras as tlk
from tests.helpers import image_data
from tests.helpers import tiny_cnn
from tlkeras.freezing import FreezeIf
from tlkeras.freezing import TrainGroups
from tlkeras.freezing import TrainTop
from tlkeras.freezing import UpTo

X, Y = image_data(n=16, size=16)

# The tiny base's groups: conv_a, conv_b, conv_c (input side first).
TABLE = [
    ("base", []),
    ("none", ["conv_a", "conv_b", "conv_c"]),
    (TrainTop(0), []),
    (TrainTop(2), ["conv_b", "conv_c"]),
    (TrainGroups(["conv_a", "conv_c"]), ["conv_a", "conv_c"]),
    (UpTo("relu_b"), ["conv_c"]),
    (FreezeIf(lambda layer: layer.name[-1] != "b"), ["conv_b"]),
    (lambda layer: layer.name[-1] != "a", ["conv_a"]),
]
IDS = [
    "base",
    "none",
    "top0",
    "top2",
    "groups",
    "upto",
    "freezeif",
    "callable",
]


def trained(model):
    return [g.name for g in tlk.layer_groups(model)[:-1] if g.trainable]


def fresh():
    keras.utils.set_random_seed(3)
    return tlk.build_classifier(tiny_cnn(), 3)


@pytest.mark.parametrize("policy, expected", TABLE, ids=IDS)
def test_every_entry_point_reads_the_policy_alike(policy, expected):
    seen = {}
    seen["build_classifier"] = trained(
        tlk.build_classifier(tiny_cnn(), 3, freeze=policy)
    )

    model = fresh()
    tlk.freezing.apply(model, policy)
    seen["freezing.apply"] = trained(model)
    seen["trainable_groups"] = tlk.freezing.trainable_groups(model, policy)[:-1]

    model = fresh()
    tlk.recipes.fine_tune(
        model,
        (X, Y),
        head_epochs=0,
        fine_tune_epochs=1,
        freeze=policy,
        batch_size=8,
        verbose=0,
    )
    seen["recipes.fine_tune"] = trained(model)

    model = fresh()
    model.compile()
    schedule = {0: policy} if expected else {0: "base"}
    model.fit(
        X,
        Y,
        batch_size=8,
        epochs=1,
        verbose=0,
        callbacks=[tlk.callbacks.ProgressiveUnfreezing(schedule, verbose=0)],
    )
    seen["ProgressiveUnfreezing"] = trained(model)

    hypermodel = tlk.tuning.TransferHyperModel(
        tiny_cnn(),
        3,
        input_shape=(16, 16, 3),
        weights=None,
        search={"freeze": policy},
    )
    import keras_tuner

    seen["TransferHyperModel"] = trained(
        hypermodel.build(keras_tuner.HyperParameters())
    )
    assert seen == {name: expected for name in seen}


def test_the_hypermodel_gives_frozen_groups_no_optimizer():
    import keras_tuner

    hypermodel = tlk.tuning.TransferHyperModel(
        tiny_cnn(),
        3,
        input_shape=(16, 16, 3),
        weights=None,
        search={"freeze": TrainGroups(["conv_b"]), "spread": 10.0},
    )
    model = hypermodel.build(keras_tuner.HyperParameters())
    optimizer = model.optimizer
    assert sorted(optimizer.group_optimizers) == ["conv_b", "head"]
    rates = optimizer.group_learning_rates()
    assert rates["head"] / rates["conv_b"] == pytest.approx(10.0)


@pytest.mark.parametrize(
    "old, new, expected",
    [
        (2, "TrainTop(2)", ["conv_b", "conv_c"]),
        (0, '"base"', []),
        ("all", '"none"', ["conv_a", "conv_b", "conv_c"]),
        (["conv_a"], "TrainGroups(['conv_a'])", ["conv_a"]),
    ],
)
def test_old_spellings_work_and_warn_with_the_new_one(old, new, expected):
    with pytest.warns(DeprecationWarning, match=f"write freeze=.*{new[:8]}"):
        model = tlk.build_classifier(tiny_cnn(), 3, freeze=old)
    assert trained(model) == expected


def test_fine_tune_unfreeze_argument_warns_and_works():
    model = fresh()
    with pytest.warns(DeprecationWarning, match="write freeze="):
        tlk.recipes.fine_tune(
            model,
            (X, Y),
            head_epochs=0,
            fine_tune_epochs=1,
            unfreeze="none",
            batch_size=8,
            verbose=0,
        )
    assert trained(model) == ["conv_a", "conv_b", "conv_c"]


def test_old_schedules_warn_and_unfreeze_as_before():
    with pytest.warns(DeprecationWarning, match=r"TrainTop\(1\)"):
        callback = tlk.callbacks.ProgressiveUnfreezing({0: 0, 1: 1, 2: "all"})
    assert list(callback.schedule.values()) == [
        TrainTop(0),
        TrainTop(1),
        tlk.freezing.parse_policy("none"),
    ]


@pytest.mark.parametrize(
    "old, new",
    [
        ("tlkeras.optimizers", "discriminative"),
        ("tlkeras.freezing", "sync_trainable"),
        ("tlkeras.builders", "TASKS"),
    ],
)
def test_moved_names_keep_a_warning_alias(old, new):
    import importlib

    module = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match="moved to tlkeras"):
        alias = getattr(module, new)
    home = "tlkeras.tasks" if new == "TASKS" else "tlkeras.training"
    assert alias is getattr(importlib.import_module(home), new)


def test_bad_policies_name_the_argument_and_value():
    with pytest.raises(ValueError, match="Received: freeze='most'"):
        tlk.freezing.parse_policy("most")
    with pytest.raises(TypeError, match="Received: freeze=1.5"):
        tlk.freezing.parse_policy(1.5)
    with pytest.raises(ValueError, match=r"TrainTop\(4\) asks for the top 4"):
        tlk.freezing.apply(fresh(), TrainTop(4))
    with pytest.raises(ValueError, match=r"No base group named \['conv_d'\]"):
        tlk.freezing.apply(fresh(), TrainGroups(["conv_d"]))
    with pytest.raises(ValueError, match="an int >= 0"):
        TrainTop(-1)
