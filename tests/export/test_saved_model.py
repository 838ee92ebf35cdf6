"""SavedModel export: raw inputs with stable names, parity, atomicity."""

import os
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import tlkeras as tlk
from tests.bases.hub_modules import write_image_module
from tests.bases.hub_modules import write_text_module
from tests.helpers import tiny_cnn

NAMES = ["ant", "bee", "wasp"]


@pytest.fixture(scope="module")
def model():
    return tlk.build_classifier(tiny_cnn(), 3, freeze="none", class_names=NAMES)


def _serve(path):
    return tf.saved_model.load(str(path)).signatures["serving_default"]


def _pixels(n=5, seed=1):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 16, 16, 3)).astype("uint8")


def test_serving_takes_uint8_images_and_names_outputs(model, tmp_path):
    path = tlk.export.saved_model(model, tmp_path / "1", verbose=0)
    serve = _serve(path)
    (spec,) = serve.structured_input_signature[1].values()
    assert (spec.name, spec.dtype, tuple(spec.shape)) == (
        "images",
        tf.uint8,
        (None, 16, 16, 3),
    )
    pixels = _pixels()
    out = serve(images=tf.constant(pixels))
    expected = model.predict(pixels.astype("float32"), verbose=0)
    np.testing.assert_allclose(out["probabilities"], expected, atol=1e-6)
    ids = expected.argmax(1)
    np.testing.assert_array_equal(out["class_ids"], ids)
    assert [c.decode() for c in out["classes"].numpy()] == [
        NAMES[i] for i in ids
    ]


def test_refused_overwrite_keeps_the_old_export(model, tmp_path):
    path = tlk.export.saved_model(model, tmp_path / "1", verbose=0)
    before = _serve(path)(images=tf.constant(_pixels()))["probabilities"]
    with pytest.raises(FileExistsError, match="overwrite=True"):
        tlk.export.saved_model(model, path, verbose=0)
    after = _serve(path)(images=tf.constant(_pixels()))["probabilities"]
    np.testing.assert_array_equal(before, after)

    changed = tlk.TransferModel.from_config(model.get_config())
    changed.set_weights([w * 0.5 for w in model.get_weights()])
    tlk.export.saved_model(changed, path, overwrite=True, verbose=0)
    replaced = _serve(path)(images=tf.constant(_pixels()))["probabilities"]
    assert not np.allclose(before, replaced)
    assert os.listdir(tmp_path) == ["1"]  # no temporary folders left


def test_failed_export_writes_nothing(model, tmp_path, monkeypatch):
    def broken(*args):
        raise tlk.export.ExportMismatchError("differs")

    # The function shadows its module's name in the package.
    module = sys.modules["tlkeras.export.saved_model"]
    monkeypatch.setattr(module, "verify_saved_model", broken)
    with pytest.raises(tlk.export.ExportMismatchError):
        tlk.export.saved_model(model, tmp_path / "1", verbose=0)
    assert os.listdir(tmp_path) == []


def test_logits_become_probabilities_float_input(tmp_path):
    model = tlk.build_classifier(tiny_cnn(), 3, logits=True)
    path = tlk.export.saved_model(
        model, tmp_path / "1", input_dtype="float32", verbose=0
    )
    pixels = _pixels().astype("float32")
    out = _serve(path)(images=tf.constant(pixels))
    np.testing.assert_allclose(
        out["probabilities"],
        keras.ops.softmax(model.predict(pixels, verbose=0)),
        atol=1e-6,
    )
    assert "classes" not in out
    with pytest.raises(ValueError, match="input_dtype"):
        tlk.export.saved_model(model, tmp_path / "2", input_dtype="int8")


def test_hub_models_export_with_their_module(tmp_path):
    image = write_image_module(tmp_path / "image")
    model = tlk.build_classifier(
        f"hub:{image}", 2, input_shape=(16, 16, 3), freeze="none"
    )
    path = tlk.export.saved_model(model, tmp_path / "img", verbose=0)
    pixels = _pixels()
    np.testing.assert_allclose(
        _serve(path)(images=tf.constant(pixels))["probabilities"],
        model.predict(pixels.astype("float32"), verbose=0),
        atol=1e-6,
    )
    text = write_text_module(tmp_path / "text")
    model = tlk.build_classifier(f"hub:{text}", 2, class_names=["ham", "spam"])
    path = tlk.export.saved_model(model, tmp_path / "txt", verbose=0)
    serve = _serve(path)
    assert list(serve.structured_input_signature[1]) == ["text"]
    texts = np.array(["win cash now", "see you soon"], object)
    np.testing.assert_allclose(
        serve(text=tf.constant(texts))["probabilities"],
        model.predict(texts, verbose=0),
        atol=1e-6,
    )
