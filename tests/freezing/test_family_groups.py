"""Every keras.applications family splits into the groups the README's
table promises: contiguous, each variable in exactly one group."""

import keras
import pytest

import tlkeras as tlk

# base, input size, base_kwargs, the README's groups (then "head")
FAMILIES = [
    ("ResNet50V2", 32, {}, ["stem", "conv2", "conv3", "conv4", "conv5"]),
    (
        "MobileNet",
        32,
        {"alpha": 0.25},
        ["stem"] + [f"stage{i}" for i in range(1, 5)],
    ),
    (
        "MobileNetV2",
        32,
        {"alpha": 0.35},
        ["stem"] + [f"stage{i}" for i in range(1, 5)] + ["top"],
    ),
    (
        "MobileNetV3Small",
        32,
        {"alpha": 0.75},
        ["stem", "stage1", "stage2", "stage3", "top"],
    ),
    (
        "MobileNetV3Large",
        32,
        {"alpha": 0.75},
        ["stem"] + [f"stage{i}" for i in range(1, 5)] + ["top"],
    ),
    (
        "EfficientNetB0",
        32,
        {},
        ["stem"] + [f"block{i}" for i in range(1, 8)] + ["top"],
    ),
    (
        "EfficientNetV2B0",
        32,
        {},
        ["stem"] + [f"block{i}" for i in range(1, 7)] + ["top"],
    ),
    ("ConvNeXtTiny", 32, {}, ["stem", "stage1", "stage2", "stage3", "stage4"]),
    ("DenseNet121", 32, {}, ["stem", "conv2", "conv3", "conv4", "conv5"]),
    ("VGG16", 32, {}, [f"block{i}" for i in range(1, 6)]),
    ("Xception", 71, {}, ["stem", "entry", "middle", "exit"]),
    ("InceptionV3", 75, {}, ["stage1", "stage2", "stage3"]),
    (
        "InceptionResNetV2",
        75,
        {},
        ["stem", "block35", "block17", "block8", "top"],
    ),
    ("NASNetMobile", 32, {}, [f"group{i}" for i in range(1, 5)]),
]


@pytest.mark.parametrize(
    "base, size, kwargs, expected", FAMILIES, ids=[f[0] for f in FAMILIES]
)
def test_family_groups(base, size, kwargs, expected):
    model = tlk.build_classifier(
        base,
        2,
        input_shape=(size, size, 3),
        weights=None,
        base_kwargs=kwargs or None,
    )
    groups = tlk.layer_groups(model)
    assert [g.name for g in groups] == expected + ["head"]
    # Contiguous: walking the base's layers, the group changes only forward.
    order = {id(layer): i for i, layer in enumerate(model.base.layers)}
    last = -1
    for group in groups[:-1]:
        positions = [order[id(x)] for x in group.layers if id(x) in order]
        assert positions == sorted(positions), group.name
        assert positions[0] > last, group.name
        last = positions[-1]
    # Each variable of the model in exactly one group.
    seen = [id(v) for g in groups for v in g.variables]
    assert len(seen) == len(set(seen))
    assert set(seen) == {id(v) for v in model.weights}
    keras.backend.clear_session(free_memory=False)
