"""The report's numbers are scikit-learn's on the same predictions."""

import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn import metrics as skm

import tlkeras as tlk


def dense_base():
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(8)])


def data(n=60, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    y = rng.integers(0, classes, n)
    return x, y


def test_multiclass_equals_sklearn():
    keras.utils.set_random_seed(0)
    x, y = data()
    names = ["ant", "bee", "cat", "dog"]
    model = tlk.build_classifier(dense_base(), 4, class_names=names)
    r = tlk.evaluation.report(model, x, y, top_k=(1, 2, 3))
    scores = model.predict(x, verbose=0)
    predicted = scores.argmax(1)
    expected = skm.classification_report(
        y, predicted, labels=range(4), output_dict=True, zero_division=0
    )
    assert r.metrics["accuracy"] == pytest.approx(expected["accuracy"])
    for i, row in enumerate(r.per_class):
        assert row["name"] == names[i]
        for key, theirs in (
            ("precision", "precision"),
            ("recall", "recall"),
            ("f1", "f1-score"),
            ("support", "support"),
        ):
            assert row[key] == pytest.approx(expected[str(i)][theirs])
    for average in ("macro", "weighted"):
        assert r.averages[average]["f1"] == pytest.approx(
            expected[f"{average} avg"]["f1-score"]
        )
    assert r.confusion == skm.confusion_matrix(y, predicted).tolist()
    for k in (2, 3):
        assert r.metrics[f"top_{k}_accuracy"] == pytest.approx(
            skm.top_k_accuracy_score(y, scores, k=k, labels=range(4))
        )
    assert "top_1_accuracy" not in r.metrics  # that is the accuracy
    # Top-k accuracy does grow with k (and the metric is not trivial).
    assert r.metrics["accuracy"] < r.metrics["top_3_accuracy"] < 1.0


def test_logits_and_datasets_give_the_same_report():
    keras.utils.set_random_seed(1)
    x, y = data(classes=3)
    probs = tlk.build_classifier(dense_base(), 3)
    logits = tlk.build_classifier(dense_base(), 3, logits=True)
    logits.set_weights(probs.get_weights())
    a = tlk.evaluation.report(probs, x, y)

    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(60).batch(7)
    b = tlk.evaluation.report(logits, ds)
    assert a.confusion == b.confusion
    assert a.metrics == pytest.approx(b.metrics)
    # `(x, y)` as the data, as fine_tune and compare take it.
    c = tlk.evaluation.report(probs, (x, y))
    assert c.confusion == a.confusion and c.metrics == a.metrics


def test_binary_report():
    keras.utils.set_random_seed(2)
    x, y = data(classes=2)
    model = tlk.build_classifier(dense_base(), 1)
    r = tlk.evaluation.report(model, x, y)
    predicted = (model.predict(x, verbose=0)[:, 0] > 0.5).astype(int)
    assert r.metrics["accuracy"] == pytest.approx(
        skm.accuracy_score(y, predicted)
    )
    assert (
        r.confusion
        == skm.confusion_matrix(y, predicted, labels=[0, 1]).tolist()
    )


def test_multilabel_equals_sklearn():
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 6)).astype("float32")
    y = rng.integers(0, 2, (50, 3))
    model = tlk.build_classifier(dense_base(), 3, multi_label=True)
    r = tlk.evaluation.report(model, x, y)
    predicted = (model.predict(x, verbose=0) > 0.5).astype(int)
    p, rec, f, s = skm.precision_recall_fscore_support(
        y, predicted, zero_division=0
    )
    np.testing.assert_allclose([row["f1"] for row in r.per_class], f)
    np.testing.assert_allclose([row["recall"] for row in r.per_class], rec)
    assert r.metrics["subset_accuracy"] == pytest.approx(
        skm.accuracy_score(y, predicted)
    )
    assert r.averages["micro"]["f1"] == pytest.approx(
        skm.f1_score(y, predicted, average="micro", zero_division=0)
    )
    assert r.confusion is None


def test_regression_equals_sklearn():
    keras.utils.set_random_seed(4)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(40, 6)).astype("float32")
    y = rng.normal(size=(40, 2))
    model = tlk.build_regressor(dense_base(), 2)
    r = tlk.evaluation.report(model, x, y)
    predicted = model.predict(x, verbose=0)
    assert r.metrics["mae"] == pytest.approx(
        skm.mean_absolute_error(y, predicted), rel=1e-5
    )
    assert r.metrics["rmse"] == pytest.approx(
        np.sqrt(skm.mean_squared_error(y, predicted)), rel=1e-5
    )
    assert r.metrics["r2"] == pytest.approx(
        skm.r2_score(y, predicted), rel=1e-5
    )


def test_text_and_json(tmp_path):
    x, y = data(classes=3)
    model = tlk.build_classifier(dense_base(), 3, class_names=["a", "b", "c"])
    r = tlk.evaluation.report(model, x, y)
    text = str(r)
    assert "precision" in text and "macro avg" in text and "confusion" in text
    path = r.to_json(tmp_path / "report.json")
    assert json.loads(Path(path).read_text()) == r.to_dict()
    assert list(tmp_path.iterdir()) == [tmp_path / "report.json"]


def test_bad_inputs():
    x, y = data()
    model = tlk.build_classifier(dense_base(), 4)
    with pytest.raises(ValueError, match="need labels"):
        tlk.evaluation.report(model, x)
    with pytest.raises(ValueError, match="4 classes"):
        tlk.evaluation.report(model, x, y, class_names=["a"])
    plain = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4)])
    with pytest.raises(ValueError, match="pass `task`"):
        tlk.evaluation.report(plain, x, y)
