"""Multi-task models: named heads, masked labels, groups, round trips."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tlkeras as tlk
from tests.helpers import tiny_cnn
from tests.helpers import values

HEADS = {"kind": 3, "flag": "binary", "size": "regression"}


def build(**kwargs):
    kwargs.setdefault("heads", HEADS)
    return tlk.build_multitask(tiny_cnn(), **kwargs)


def data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, 16, 16, 3)).astype("float32")
    y = {
        "kind": rng.integers(0, 3, n),
        "flag": rng.integers(0, 2, n).astype("float32"),
        "size": rng.normal(size=n).astype("float32"),
    }
    return x, y


def head_weights(model, name):
    return model.head.heads[name].weights


def test_outputs_groups_and_tasks():
    model = build(class_names={"kind": ["a", "b", "c"]})
    x, _ = data(4)
    outputs = model.predict(x, verbose=0)
    assert {k: v.shape for k, v in outputs.items()} == {
        "kind": (4, 3),
        "flag": (4, 1),
        "size": (4, 1),
    }
    np.testing.assert_allclose(outputs["kind"].sum(-1), 1.0, rtol=1e-5)
    base, heads = tlk.freezing.split_head_groups(model)
    assert [g.name for g in heads] == ["kind", "flag", "size"]
    assert model.tasks == {
        "kind": "multiclass",
        "flag": "binary",
        "size": "regression",
    }


def test_every_head_trains():
    model = build()
    x, y = data()
    before = {n: values(head_weights(model, n)) for n in HEADS}
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert {"kind_accuracy", "flag_binary_accuracy", "size_mae"} <= set(
        history.history
    )
    for name in HEADS:
        for a, b in zip(before[name], values(head_weights(model, name))):
            assert not np.array_equal(a, b), name


@pytest.mark.parametrize("missing", ["nan", "absent"])
def test_a_head_without_labels_does_not_move(missing):
    model = build()
    x, y = data()
    if missing == "nan":
        y["size"] = np.full_like(y["size"], np.nan)
    else:
        del y["size"]
    size_before = values(head_weights(model, "size"))
    kind_before = values(head_weights(model, "kind"))
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    for a, b in zip(size_before, values(head_weights(model, "size"))):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(kind_before, values(head_weights(model, "kind"))):
        assert not np.array_equal(a, b)


def test_loss_is_the_mean_over_labelled_examples():
    model = build(loss_weights={"size": 0.5})
    model.compile()
    x, y = data(12)
    y["kind"][[1, 4, 7]] = -1
    y["size"][[0, 2]] = np.nan
    pred = model.predict(x, verbose=0)
    have = y["kind"] >= 0
    p = pred["kind"][have, y["kind"][have]]
    kind = -np.log(np.clip(p, 1e-7, 1)).mean()
    f, t = np.clip(pred["flag"][:, 0], 1e-7, 1 - 1e-7), y["flag"]
    flag = -(t * np.log(f) + (1 - t) * np.log(1 - f)).mean()
    ok = ~np.isnan(y["size"])
    size = ((pred["size"][ok, 0] - y["size"][ok]) ** 2).mean()
    logs = model.evaluate(x, y, batch_size=12, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["kind_loss"], kind, rtol=1e-4)
    np.testing.assert_allclose(logs["size_loss"], size, rtol=1e-4)
    np.testing.assert_allclose(
        logs["loss"], kind + flag + 0.5 * size, rtol=1e-4
    )
    accuracy = (pred["kind"][have].argmax(-1) == y["kind"][have]).mean()
    np.testing.assert_allclose(logs["kind_accuracy"], accuracy, rtol=1e-5)


def test_round_trip(tmp_path):
    model = build(
        loss_weights={"size": 0.1}, class_names={"kind": ["a", "b", "c"]}
    )
    model.compile()
    x, y = data()
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "multi.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, tlk.MultiTaskModel)
    assert loaded.tasks == model.tasks
    assert loaded.loss_weights == {"size": 0.1}
    assert loaded.class_names == {"kind": ["a", "b", "c"]}
    expected, actual = model.predict(x, verbose=0), loaded.predict(x, verbose=0)
    for name in HEADS:
        np.testing.assert_array_equal(expected[name], actual[name])
    loaded.fit(x, y, epochs=1, verbose=0)  # compiled from the file


def test_per_head_groups_freeze_and_rates():
    model = build(freeze="none")
    tlk.freezing.set_trainable(model, "size", False)
    trainable = [g.name for g in tlk.layer_groups(model) if g.trainable]
    assert "size" not in trainable and {"kind", "flag"} <= set(trainable)
    opt = tlk.training.discriminative(model, lr=(1e-4, 1e-2))
    rates = opt.multipliers
    assert rates["kind"] == rates["flag"] == rates["size"] == 1.0
    assert rates[tlk.layer_groups(model)[0].name] == pytest.approx(1e-2)


def test_export_has_one_named_output_set_per_head(tmp_path):
    model = build(class_names={"kind": ["a", "b", "c"]})
    path = tlk.export.saved_model(
        model, tmp_path / "1", input_dtype="float32", verbose=0
    )
    serve = tf.saved_model.load(path).signatures["serving_default"]
    x, _ = data(4)
    out = serve(images=tf.constant(x))
    assert sorted(out) == [
        "flag_class_ids",
        "flag_probabilities",
        "kind_class_ids",
        "kind_classes",
        "kind_probabilities",
        "size_predictions",
    ]
    pred = model.predict(x, verbose=0)
    np.testing.assert_allclose(out["size_predictions"], pred["size"], atol=1e-5)
    np.testing.assert_array_equal(
        out["kind_class_ids"], pred["kind"].argmax(-1)
    )


@pytest.mark.parametrize(
    "heads, error, match",
    [
        ({}, ValueError, "non-empty dict"),
        ({"a": "multilabel"}, ValueError, "needs a size"),
        ({"a": "regresion"}, ValueError, "'regresion'"),
        ({"a": True}, TypeError, "must be an int"),
        ({"a b": 2}, ValueError, "identifiers"),
        ({"a": tlk.heads.MLP(units=(4,))}, ValueError, "template"),
    ],
)
def test_bad_heads(heads, error, match):
    with pytest.raises(error, match=match):
        tlk.build_multitask(tiny_cnn(), heads=heads)


def test_labels_must_be_keyed_by_head():
    model = build()
    model.compile()
    x, y = data(8)
    with pytest.raises(ValueError, match="Unknown: \\['sizes'\\]"):
        model.fit(x, {"sizes": y["size"]}, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="dict of labels"):
        model.fit(x, y["kind"], epochs=1, verbose=0)
