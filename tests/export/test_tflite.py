"""LiteRT export: raw inputs, parity with Keras, quantization."""

import numpy as np
import pytest

import tlkeras as tlk
from tests.helpers import tiny_cnn


@pytest.fixture(scope="module")
def model():
    return tlk.build_classifier(tiny_cnn(), 3, freeze="none")


def test_tflite_matches_keras(model, tmp_path):
    path = tlk.export.tflite(model, tmp_path / "m.tflite", verbose=0)
    runner = tlk.export.tflite_interpreter(path).get_signature_runner()
    assert list(runner.get_input_details()) == ["images"]
    pixels = np.random.default_rng(2).integers(0, 256, (3, 16, 16, 3))
    out = tlk.export.run_tflite(path, pixels.astype("uint8"))
    expected = model.predict(pixels.astype("float32"), verbose=0)
    np.testing.assert_allclose(out["probabilities"], expected, atol=1e-5)
    np.testing.assert_array_equal(out["class_ids"], expected.argmax(1))


def test_quantized_files_are_smaller_and_close(model, tmp_path):
    full = tlk.export.tflite(model, tmp_path / "full.tflite", verbose=0)
    half = tlk.export.tflite(
        model, tmp_path / "half.tflite", quantize="float16", verbose=0
    )
    assert (tmp_path / "half.tflite").stat().st_size < (
        tmp_path / "full.tflite"
    ).stat().st_size
    pixels = np.random.default_rng(3).integers(0, 256, (4, 16, 16, 3))
    pixels = pixels.astype("uint8")
    np.testing.assert_allclose(
        tlk.export.run_tflite(half, pixels)["probabilities"],
        tlk.export.run_tflite(full, pixels)["probabilities"],
        atol=2e-2,
    )


def test_tflite_bad_arguments(model, tmp_path):
    with pytest.raises(ValueError, match="quantize"):
        tlk.export.tflite(model, tmp_path / "m.tflite", quantize="int4")
    with pytest.raises(ValueError, match=".tflite"):
        tlk.export.tflite(model, tmp_path / "m.lite")
    (tmp_path / "old.tflite").write_bytes(b"old")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        tlk.export.tflite(model, tmp_path / "old.tflite")
    assert (tmp_path / "old.tflite").read_bytes() == b"old"


def test_tflite_from_an_exported_saved_model(model, tmp_path):
    saved = tlk.export.saved_model(model, tmp_path / "1", verbose=0)
    path = tlk.export.tflite(saved, tmp_path / "m.tflite", verbose=0)
    pixels = np.random.default_rng(4).integers(0, 256, (2, 16, 16, 3))
    out = tlk.export.run_tflite(path, pixels.astype("uint8"))
    np.testing.assert_allclose(
        out["probabilities"],
        model.predict(pixels.astype("float32"), verbose=0),
        atol=1e-5,
    )
    assert sorted(out) == ["class_ids", "probabilities"]


def test_without_litert_says_once_which_extra(model, tmp_path, monkeypatch):
    """Without ai-edge-litert the file is checked with tf.lite, and the user
    reads once what to install, not TensorFlow's deprecation warning."""
    import importlib
    import sys
    import warnings

    module = importlib.import_module("tlkeras.export.tflite")

    path = tlk.export.tflite(model, tmp_path / "m.tflite", verbose=0)
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    monkeypatch.setattr(module, "_SAID_WHICH_EXTRA", [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module.tflite_interpreter(path)
        module.tflite_interpreter(path)
    messages = [str(w.message) for w in caught]
    assert sum("tlkeras[export]" in m for m in messages) == 1, messages
    assert not any("is deprecated" in m for m in messages), messages
