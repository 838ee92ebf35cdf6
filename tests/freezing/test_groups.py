import keras
import pytest

import tlkeras as tlk
from tests.helpers import tiny_cnn
from tlkeras.freezing import split_into_groups


@pytest.fixture(scope="module")
def resnet50():
    return tlk.build_classifier(
        "resnet50", 4, input_shape=(32, 32, 3), weights=None
    )


def test_resnet50_groups_follow_its_stages(resnet50):
    groups = tlk.layer_groups(resnet50)
    assert [g.name for g in groups] == [
        "stem",
        "conv2",
        "conv3",
        "conv4",
        "conv5",
        "head",
    ]
    stage_of = {layer.name: g.name for g in groups for layer in g.layers}
    assert stage_of["preprocessing"] == "stem"
    assert stage_of["conv1_conv"] == "stem"
    for stage, blocks in (
        ("conv2", 3),
        ("conv3", 4),
        ("conv4", 6),
        ("conv5", 3),
    ):
        names = [
            layer.name
            for layer in next(g for g in groups if g.name == stage).layers
        ]
        assert all(n.startswith(stage + "_block") for n in names)
        assert f"{stage}_block{blocks}_out" in names
        assert f"{stage}_block{blocks + 1}_out" not in names
    assert groups[-1].layers == [resnet50.head]


def test_every_variable_is_in_exactly_one_group(resnet50):
    groups = tlk.layer_groups(resnet50)
    ids = [id(v) for g in groups for v in g.variables]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(v) for v in resnet50.weights}
    assert sum(g.count_params() for g in groups) == resnet50.count_params()


@pytest.mark.parametrize(
    "name, shape, expected",
    [
        (
            "MobileNetV2",
            (32, 32, 3),
            ["stem", "stage1", "stage2", "stage3", "stage4", "top"],
        ),
        (
            "MobileNet",
            (32, 32, 3),
            ["stem", "stage1", "stage2", "stage3", "stage4"],
        ),
        (
            "EfficientNetB0",
            (32, 32, 3),
            ["stem"] + [f"block{i}" for i in range(1, 8)] + ["top"],
        ),
        ("VGG16", (32, 32, 3), [f"block{i}" for i in range(1, 6)]),
        (
            "DenseNet121",
            (32, 32, 3),
            ["stem", "conv2", "conv3", "conv4", "conv5"],
        ),
        (
            "ConvNeXtTiny",
            (32, 32, 3),
            ["stem", "stage1", "stage2", "stage3", "stage4"],
        ),
    ],
)
def test_application_groups(name, shape, expected):
    model = tlk.build_classifier(name, 2, input_shape=shape, weights=None)
    groups = tlk.layer_groups(model)
    assert [g.name for g in groups] == expected + ["head"]
    assert all(g.layers for g in groups)
    assert sum(len(g.layers) for g in groups[:-1]) == len(
        model.base.layers
    ) - 1 + (model.preprocessing is not None)


def test_unknown_architecture_is_balanced_by_parameters():
    inputs = keras.Input((8,))
    x = inputs
    for i, width in enumerate([64, 64, 64, 64, 64, 64, 64, 64]):
        x = keras.layers.Dense(width, name=f"d{i}")(x)
    base = keras.Model(inputs, x)
    model = tlk.build_classifier(base, 2)
    groups = tlk.layer_groups(model)
    assert [g.name for g in groups] == [
        "group1",
        "group2",
        "group3",
        "group4",
        "head",
    ]
    sizes = [g.count_params() for g in groups[:-1]]
    assert max(sizes) <= 2 * min(sizes)
    # Contiguous, in order, and nothing left out.
    assert [layer.name for g in groups[:-1] for layer in g.layers] == [
        f"d{i}" for i in range(8)
    ]


def test_small_models_get_one_group_per_unit():
    groups = tlk.layer_groups(tlk.build_classifier(tiny_cnn(), 2))
    assert [g.name for g in groups] == ["conv_a", "conv_b", "conv_c", "head"]
    assert [layer.name for layer in groups[0].layers] == [
        "conv_a",
        "bn_a",
        "relu_a",
    ]


def test_split_into_groups_checks_num_groups():
    with pytest.raises(ValueError, match="num_groups=0"):
        split_into_groups(tiny_cnn().layers, 0)
    groups = split_into_groups(tiny_cnn().layers[1:], 2)
    assert [g.name for g in groups] == ["group1", "group2"]


def test_group_trainability_reads_through_containers(resnet50):
    tlk.freezing.apply(resnet50, "base")
    groups = tlk.layer_groups(resnet50)
    assert [g.trainable for g in groups] == [False] * 5 + [True]
    assert groups[-1].trainable_variables == resnet50.trainable_variables
    tlk.freezing.apply(resnet50, 1)
    assert [g.trainable for g in groups] == [False] * 4 + [True] * 2
