"""`transfer_weights`: exactly what matches is copied; every variable left
out is named with its reason."""

import keras
import numpy as np
import pytest

import tlkeras as tlk
from tests.helpers import assert_all_equal
from tests.helpers import values

SHAPE = (32, 32, 3)


def application(seed, **kwargs):
    keras.utils.set_random_seed(seed)
    return keras.applications.MobileNetV2(
        input_shape=SHAPE, alpha=0.35, weights=None, **kwargs
    )


def classifier(seed, num_classes=3, head="linear"):
    keras.utils.set_random_seed(seed)
    return tlk.build_classifier(
        "mobilenet_v2",
        num_classes,
        input_shape=SHAPE,
        weights=None,
        base_kwargs={"alpha": 0.35},
        head=head,
    )


def test_from_a_keras_application_into_a_transfer_model():
    source = application(0, include_top=False)
    model = classifier(1)
    head = values(model.head.weights)
    report = tlk.transfer_weights(source, model)
    assert_all_equal(values(source.weights), values(model.base.weights))
    assert_all_equal(head, values(model.head.weights))  # nothing to copy
    assert len(report.copied) == len(source.weights)
    assert report.skipped == [
        ("head/output/kernel", "no variable of that path"),
        ("head/output/bias", "no variable of that path"),
    ]
    assert report.unused == []
    x = np.random.default_rng(0).uniform(0, 255, (2,) + SHAPE)
    x = x.astype("float32")
    features = source(keras.applications.mobilenet_v2.preprocess_input(x))
    np.testing.assert_allclose(
        model.base(model.preprocessing(x)), features, atol=1e-6
    )


def test_a_source_with_its_top_leaves_the_top_unused():
    source = application(0, include_top=True, classes=10)
    model = classifier(1)
    report = tlk.transfer_weights(source, model)
    assert report.unused == ["predictions/kernel", "predictions/bias"]
    assert "unused in the source: predictions/kernel" in str(report)


def test_between_transfer_models_with_other_heads_and_strict():
    source, model = classifier(0, num_classes=5), classifier(1)
    report = tlk.transfer_weights(source, model)
    assert_all_equal(values(source.base.weights), values(model.base.weights))
    assert report.skipped == [
        (
            "head/output/kernel",
            "shape (1280, 5) in the source (head/output/kernel), "
            "(1280, 3) here",
        ),
        (
            "head/output/bias",
            "shape (5,) in the source (head/output/bias), (3,) here",
        ),
    ]
    table = str(report)
    assert "skipped" in table and "head/output/kernel  shape" in table
    before = values(classifier(2).weights)
    target = classifier(2)
    with pytest.raises(ValueError, match=r"2 variable\(s\).*head/output/bias"):
        tlk.transfer_weights(source, target, strict=True)
    assert_all_equal(before, values(target.weights))  # nothing copied


def test_match_by_shape_and_by_order_when_names_differ():
    def dense(prefix, units=(4, 6)):
        layers = [keras.Input((3,))]
        layers += [
            keras.layers.Dense(u, name=f"{prefix}{i}")
            for i, u in enumerate(units)
        ]
        return keras.Sequential(layers)

    source, other = dense("a"), dense("b")
    report = tlk.transfer_weights(source, other)  # names differ: nothing
    assert report.copied == [] and len(report.skipped) == 4
    report = tlk.transfer_weights(source, other, match="order")
    assert_all_equal(values(source.weights), values(other.weights))
    # By shape: the destination's extra layer finds no source variable.
    wider = dense("c", units=(4, 6, 6))
    report = tlk.transfer_weights(source, wider, match="shape")
    assert [dst for _, dst in report.copied] == [
        "c0/kernel",
        "c0/bias",
        "c1/kernel",
        "c1/bias",
    ]
    assert report.skipped == [
        ("c2/kernel", "no unused variable of shape (6, 6)"),
        ("c2/bias", "no unused variable of shape (6,)"),
    ]
    with pytest.raises(ValueError, match="match='size'"):
        tlk.transfer_weights(source, other, match="size")
