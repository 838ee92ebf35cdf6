"""`tlkeras train`, `evaluate` and `export` on a small image folder."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import tlkeras as tlk
from tlkeras.cli import main


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for label, name in enumerate(["cats", "dogs"]):
        (root / name).mkdir()
        for i in range(8):
            pixels = rng.integers(0, 60, (24, 24, 3)) + 150 * label
            png = tf.io.encode_png(pixels.astype("uint8")).numpy()
            (root / name / f"{i}.png").write_bytes(png)
    return root


def train(data, out, *options):
    """`tlkeras train` on a tiny random MobileNetV2 at 32 px."""
    return main(
        [
            "train",
            "--base",
            "mobilenet_v2",
            "--weights",
            "none",
            "--base-kwargs",
            '{"alpha": 0.35}',
            "--data",
            str(data),
            "--out",
            str(out),
            "--image-size",
            "32",
            "--batch-size",
            "8",
            *options,
        ]
    )


@pytest.fixture(scope="module")
def trained(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    code = train(
        str(folder),
        str(out),
        "--epochs",
        "4",
        "--strategy",
        "fine_tune",
        "--verbose",
        "0",
    )
    assert code == 0
    return out


def test_train_picks_the_recipe_by_default(
    folder, tmp_path, capsys, monkeypatch
):
    # Random images: whether "far" wins is chance; here the task is near.
    monkeypatch.setattr(tlk.recipes.target, "MARGIN", 1.0)
    code = train(str(folder), str(tmp_path), "--epochs", "1")
    assert code == 0
    report = json.loads((tmp_path / "report.json").read_text())
    # A near task, a few images per class: the head alone, cached.
    assert report["strategy"] == "auto"
    assert report["recipe"] == "linear_probe"
    assert report["target"] == "near"
    out = capsys.readouterr().out
    assert ": linear_probe (a near task and under 50 per class" in out
    # The summary says what auto picked, also when --verbose 0 silences it.
    assert "strategy     auto: linear_probe (target 'near')" in out
    # and which epoch's head the model keeps (its lowest validation loss).
    losses = report["history"]["val_loss"]
    assert report["best_epoch"] == int(np.argmin(losses)) + 1
    assert f"best epoch   {report['best_epoch']} (lowest val loss" in out


@pytest.mark.parametrize("strategy", ["feature_extraction", "lp_ft"])
def test_train_runs_each_strategy(strategy, folder, tmp_path):
    code = train(
        str(folder),
        str(tmp_path),
        "--epochs",
        "2",
        "--strategy",
        strategy,
        "--verbose",
        "0",
    )
    assert code == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["strategy"] == report["recipe"] == strategy
    assert len(report["history"]["loss"]) == 2
    model = keras.saving.load_model(tmp_path / "model.keras")
    trained = [g.trainable for g in tlk.layer_groups(model)[:-1]]
    # feature_extraction never unfreezes the base; lp_ft ends fine-tuning
    # all of it.
    assert trained == [strategy == "lp_ft"] * len(trained)


def test_train_on_a_tfds_dataset(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=20):
        code = train(
            "tfds:mnist",
            str(tmp_path),
            "--epochs",
            "1",
            "--strategy",
            "feature_extraction",
            "--verbose",
            "0",
        )
    assert code == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["classes"] == [str(d) for d in range(10)]
    assert set(report["validation"]) >= {"loss", "accuracy"}


def test_train_writes_model_and_report(trained, capsys):
    report = json.loads((trained / "report.json").read_text())
    assert report["classes"] == ["cats", "dogs"]
    assert report["strategy"] == "fine_tune"
    assert set(report["validation"]) >= {"loss", "accuracy"}
    assert (trained / "model.keras").is_file()
    # The best epoch's weights are kept (lowest validation loss), as
    # EarlyStopping(restore_best_weights=True) would, across both stages.
    losses = report["history"]["val_loss"]
    assert report["best_epoch"] == int(np.argmin(losses)) + 1
    assert report["validation"]["loss"] == pytest.approx(min(losses), rel=1e-4)


def test_evaluate_prints_metrics(trained, folder, capsys):
    code = main(
        [
            "evaluate",
            str(trained / "model.keras"),
            str(folder),
            "--verbose",
            "0",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    metrics = json.loads(out.strip().splitlines()[-1])
    # What Keras itself computes for the saved model on the same data.
    model = keras.saving.load_model(trained / "model.keras")
    data = tlk.data.image_dataset(
        str(folder), image_size=(32, 32), shuffle=False, batch_size=8
    )
    expected = model.evaluate(data, return_dict=True, verbose=0)
    assert metrics["accuracy"] == pytest.approx(expected["accuracy"], abs=1e-6)
    assert metrics["loss"] == pytest.approx(expected["loss"], rel=1e-5)
    # The per-class report is printed and written, and agrees with Keras.
    assert "macro avg" in out and "confusion matrix" in out
    written = json.loads((trained / "model_report.json").read_text())
    assert written["metrics"]["accuracy"] == pytest.approx(
        metrics["accuracy"], abs=1e-6
    )
    assert sum(row["support"] for row in written["per_class"]) == 16


def test_evaluate_with_test_time_augmentation(trained, folder, capsys):
    path = trained / "flip_report.json"
    args = ["evaluate", str(trained / "model.keras"), str(folder)]
    args += ["--tta", "flip", "--report", str(path), "--verbose", "0"]
    assert main(args) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    model = keras.saving.load_model(trained / "model.keras")
    data = tlk.data.image_dataset(
        str(folder), image_size=(32, 32), shuffle=False, batch_size=8
    )
    expected = tlk.evaluation.report(model, data, tta="flip")
    # Keras's own figures stay untouched beside the report's, with TTA.
    plain = model.evaluate(data, return_dict=True, verbose=0)
    assert metrics["accuracy"] == pytest.approx(plain["accuracy"], abs=1e-6)
    for key, value in expected.metrics.items():
        assert metrics[f"tta_{key}"] == pytest.approx(value, abs=1e-6)
    written = json.loads(path.read_text())
    assert written["tta"] == "flip"
    assert written["metrics"] == pytest.approx(expected.metrics)


def test_export_writes_savedmodel_and_tflite(trained, tmp_path, capsys):
    out = tmp_path / "export" / "1"
    lite = tmp_path / "model.tflite"
    args = ["export", str(trained / "model.keras"), str(out)]
    assert main(args + ["--tflite", str(lite)]) == 0
    serve = tf.saved_model.load(str(out)).signatures["serving_default"]
    # Varied raw images through the exported signature: what the trained
    # model predicts for them.
    pixels = np.random.default_rng(0).integers(0, 256, (6, 32, 32, 3))
    result = serve(images=tf.constant(pixels, tf.uint8))
    model = keras.saving.load_model(trained / "model.keras")
    expected = model.predict(pixels.astype("float32"), verbose=0)
    names = np.array(["cats", "dogs"])
    assert [c.decode() for c in result["classes"].numpy()] == list(
        names[expected.argmax(1)]
    )
    outputs = {k: v.numpy() for k, v in result.items() if k != "classes"}
    probabilities = next(
        v for v in outputs.values() if v.shape == expected.shape
    )
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    assert lite.is_file()
    assert main(args) == 2  # exists: refused, named
    assert "already exists" in capsys.readouterr().err


def test_missing_model_is_a_clear_error(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "no.keras"), str(tmp_path)]) == 2
    assert "No model file at" in capsys.readouterr().err


def test_compare_writes_the_table(folder, tmp_path, capsys):
    out = tmp_path / "compare"
    code = main(
        [
            "compare",
            "--base",
            "mobilenet_v2",
            "--weights",
            "none",
            "--base-kwargs",
            '{"alpha": 0.35}',
            "--data",
            str(folder),
            "--test",
            str(folder),
            "--strategies",
            "linear_probe,fine_tune",
            "--epochs",
            "2",
            "--image-size",
            "32",
            "--batch-size",
            "8",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "linear_probe" in printed and "fine_tune" in printed
    results = json.loads((out / "results.json").read_text())
    assert [r["strategy"] for r in results["runs"]] == [
        "linear_probe",
        "fine_tune",
    ]
    assert all(len(r["history"]["loss"]) == 2 for r in results["runs"])
    assert (out / "compare.png").read_bytes()[:4] == b"\x89PNG"
    assert (
        main(
            [
                "compare",
                "--base",
                "x",
                "--data",
                str(folder),
                "--out",
                str(out),
                "--strategies",
                "nope",
            ]
        )
        == 2
    )
    assert "Unknown strategy 'nope'" in capsys.readouterr().err
