"""Export parity that a wrong export would fail: a model with its
preprocessing inside, trained so its outputs vary from input to input,
compared on logits as well as probabilities."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tlkeras as tlk
from tests.helpers import tiny_cnn

NAMES = ["dark", "mid", "bright"]


def pixels(n=12, seed=0):
    rng = np.random.default_rng(seed)
    level = rng.integers(0, 3, n)
    base = rng.integers(0, 60, (n, 16, 16, 3)) + 90 * level[:, None, None, None]
    return base.astype("uint8"), level


@pytest.fixture(scope="module", params=[False, True], ids=["probs", "logits"])
def model(request):
    keras.utils.set_random_seed(4)
    model = tlk.TransferModel(
        tiny_cnn(),
        tlk.heads.Linear().with_outputs(
            3, None if request.param else "softmax"
        ),
        preprocessing=tlk.bases.ApplicationPreprocessing("mobilenet_v2"),
        input_shape=(16, 16, 3),
        logits=request.param,
        class_names=NAMES,
    )
    tlk.freezing.apply(model, "none")
    x, y = pixels(96, seed=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x.astype("float32"), y, epochs=8, batch_size=16, verbose=0)
    return model


def expected_outputs(model, x):
    raw = model.predict(x.astype("float32"), verbose=0)
    probabilities = tf.nn.softmax(raw).numpy() if model.logits else raw
    return raw, probabilities


def test_outputs_vary_so_parity_means_something(model):
    x, _ = pixels()
    raw, probabilities = expected_outputs(model, x)
    assert len(set(probabilities.argmax(1))) == 3  # every class predicted
    assert probabilities.std(axis=0).max() > 0.1
    if model.logits:
        assert np.abs(raw).max() > 1.0  # logits, not probabilities


def test_saved_model_matches(model, tmp_path):
    x, _ = pixels()
    raw, probabilities = expected_outputs(model, x)
    path = tlk.export.saved_model(model, tmp_path / "1", verbose=0)
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    out = serve(images=tf.constant(x))
    np.testing.assert_allclose(out["probabilities"], probabilities, atol=1e-6)
    np.testing.assert_array_equal(out["class_ids"], raw.argmax(1))
    assert [c.decode() for c in out["classes"].numpy()] == [
        NAMES[i] for i in raw.argmax(1)
    ]


def test_tflite_matches_and_float16_stays_close(model, tmp_path):
    x, _ = pixels()
    raw, probabilities = expected_outputs(model, x)
    full = tlk.export.tflite(model, tmp_path / "full.tflite", verbose=0)
    out = tlk.export.run_tflite(full, x)
    np.testing.assert_allclose(out["probabilities"], probabilities, atol=1e-5)
    np.testing.assert_array_equal(out["class_ids"], raw.argmax(1))
    half = tlk.export.tflite(
        model, tmp_path / "half.tflite", quantize="float16", verbose=0
    )
    out16 = tlk.export.run_tflite(half, x)
    # float16 weights: within 5e-3 of Keras, while the probabilities of
    # different inputs differ by far more than that (checked above), so an
    # export that dropped the preprocessing or mixed inputs up would fail.
    np.testing.assert_allclose(out16["probabilities"], probabilities, atol=5e-3)
    np.testing.assert_array_equal(out16["class_ids"], raw.argmax(1))
