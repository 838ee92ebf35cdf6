"""TF-Hub bases on SavedModels written by the tests (reusable API)."""

import hashlib
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import tlkeras as tlk
from tests.bases.hub_modules import REG_SCALE
from tests.bases.hub_modules import write_image_module
from tests.bases.hub_modules import write_text_module
from tests.helpers import assert_all_changed
from tests.helpers import assert_all_equal
from tests.helpers import image_data
from tests.helpers import values


@pytest.fixture(scope="module")
def image_module(tmp_path_factory):
    return write_image_module(tmp_path_factory.mktemp("hub") / "image")


@pytest.fixture(scope="module")
def text_module(tmp_path_factory):
    return write_text_module(tmp_path_factory.mktemp("hub") / "text")


def _hub(model):
    return model.base.get_layer("hub")


def _weights(model, name):
    return next(w for w in _hub(model).weights if w.path.endswith(name))


def _fit(model, epochs=2):
    x, y = image_data(n=16)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    model.fit(x, y, batch_size=8, epochs=epochs, verbose=0)


def test_weights_are_the_modules_variables(image_module):
    layer = tlk.bases.HubLayer(image_module)
    module_variables = {id(v) for v in layer._module.variables}
    assert {id(w.value) for w in layer.weights} == module_variables
    assert [b.name for b in layer.blocks] == ["block1", "block2"]
    assert [w.path for w in layer.non_trainable_weights] == [
        "hub_layer/block1/bn_moving_mean"
    ]


def test_frozen_base_stays_bit_identical(image_module):
    model = tlk.build_classifier(
        f"hub:{image_module}", num_classes=3, input_shape=(16, 16, 3)
    )
    base, head = values(model.base.weights), values(model.head.weights)
    _fit(model)
    assert_all_equal(base, values(model.base.weights))
    assert_all_changed(head, values(model.head.weights))


def test_fine_tuning_with_frozen_bn_keeps_statistics(image_module):
    model = tlk.build_classifier(
        f"hub:{image_module}",
        num_classes=3,
        input_shape=(16, 16, 3),
        freeze="none",
    )
    hub = _hub(model)
    trained = values(hub.trainable_weights)
    statistics = values(hub.non_trainable_weights)
    _fit(model)
    assert_all_changed(trained, values(hub.trainable_weights))
    assert_all_equal(statistics, values(hub.non_trainable_weights))


def test_bn_train_passes_training_to_the_module(image_module):
    model = tlk.build_classifier(
        f"hub:{image_module}",
        num_classes=3,
        input_shape=(16, 16, 3),
        freeze="none",
        bn="train",
    )
    statistics = values(_hub(model).non_trainable_weights)
    _fit(model, epochs=1)
    assert_all_changed(statistics, values(_hub(model).non_trainable_weights))


def test_the_modules_bn_mode_is_one_layer_flag(image_module, tmp_path):
    model = tlk.build_classifier(
        f"hub:{image_module}",
        num_classes=3,
        input_shape=(16, 16, 3),
        freeze="none",
        bn="train",
    )
    hub = _hub(model)
    assert isinstance(hub.batch_norm, tlk.bases.HubBatchNormalization)
    assert hub.batch_norm.trainable and hub.bn == "train"
    # The freezing functions set it like any BN layer's flag...
    tlk.freezing.apply(model, "none", bn="frozen")
    assert not hub.batch_norm.trainable and hub.bn == "frozen"
    tlk.freezing.apply(model, "none", bn="train")
    assert hub.batch_norm.trainable
    tlk.freezing.apply(model, "base", bn="train")  # nothing of it trains
    assert not hub.batch_norm.trainable
    # ...and it travels with the model's other flags.
    tlk.freezing.apply(model, "none", bn="train")
    path = str(tmp_path / "hub.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert _hub(loaded).batch_norm.trainable and _hub(loaded).bn == "train"


def test_regularization_losses_count_only_while_trainable(image_module):
    x, y = image_data(n=8)
    model = tlk.build_classifier(
        f"hub:{image_module}", num_classes=3, input_shape=(16, 16, 3)
    )
    model.compile()
    frozen_loss = model.evaluate(x, y, verbose=0)[0]
    tlk.freezing.apply(model, "none")
    model.compile()
    trained_loss = model.evaluate(x, y, verbose=0)[0]
    kernel = _weights(model, "dense_kernel").numpy()
    np.testing.assert_allclose(
        trained_loss - frozen_loss,
        REG_SCALE * np.sum(kernel**2),
        rtol=1e-4,
    )


def test_top_k_groups_follow_the_blocks(image_module):
    model = tlk.build_classifier(
        f"hub:{image_module}",
        num_classes=3,
        input_shape=(16, 16, 3),
        freeze=1,
    )
    groups = tlk.layer_groups(model)
    assert [g.name for g in groups] == ["block1", "block2", "head"]
    assert [g.trainable for g in groups] == [False, True, True]
    block1 = values(groups[0].variables)
    block2 = values(groups[1].trainable_variables)
    _fit(model)
    assert_all_equal(block1, values(groups[0].variables))
    assert_all_changed(block2, values(groups[1].trainable_variables))
    # Unfreezing after a first fit takes effect without recompiling.
    tlk.freezing.set_trainable(model, ["block1"], True)
    kernel = values([_weights(model, "conv_kernel")])
    model.fit(*image_data(n=8), verbose=0)
    assert_all_changed(kernel, values([_weights(model, "conv_kernel")]))


def test_keras_round_trip_keeps_fine_tuned_weights(image_module, tmp_path):
    model = tlk.build_classifier(
        f"hub:{image_module}",
        num_classes=3,
        input_shape=(16, 16, 3),
        freeze=1,
    )
    _fit(model)
    x, _ = image_data(n=4, seed=3)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)  # safe_mode, no custom objects
    np.testing.assert_array_equal(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0)
    )
    assert_all_equal(values(model.weights), values(loaded.weights))
    assert [g.trainable for g in tlk.layer_groups(loaded)] == [
        False,
        True,
        True,
    ]
    fresh = tlk.bases.HubLayer(image_module)
    kernel = _weights(loaded, "dense_kernel").numpy()
    assert not np.array_equal(kernel, fresh.blocks[1].weights[1].numpy())


def test_moved_module_is_found_again(image_module, tmp_path):
    old = str(tmp_path / "old")
    shutil.copytree(image_module, old)
    model = tlk.build_classifier(
        f"hub:{old}", num_classes=2, input_shape=(16, 16, 3)
    )
    path = str(tmp_path / "model.keras")
    model.save(path)
    new = str(tmp_path / "new")
    os.rename(old, new)
    # Our own error, not wrapped in Keras's TypeError (HubLayer has its own
    # from_config).
    with pytest.raises(
        tlk.bases.HubModuleNotFoundError,
        match="No TF-Hub module at .*old.*moved",
    ):
        keras.saving.load_model(path)
    with tlk.bases.hub_relocations({old: new}):
        loaded = keras.saving.load_model(path)
    assert _hub(loaded).handle == new
    x, _ = image_data(n=2)
    np.testing.assert_array_equal(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0)
    )


def test_fixed_size_module_resizes_inputs(tmp_path):
    class Fixed(tf.train.Checkpoint):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(tf.ones((3, 2)), name="m/dense/w")
            self.variables = [self.w]
            self.trainable_variables = [self.w]

        @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 3])])
        def __call__(self, images):
            return tf.matmul(tf.reduce_mean(images, [1, 2]), self.w)

    tf.saved_model.save(Fixed(), str(tmp_path / "fixed"))
    model = tlk.build_feature_extractor(
        f"hub:{tmp_path / 'fixed'}", input_shape=(4, 4, 3)
    )
    assert model.base.input_shape == (None, 8, 8, 3)
    features = model.predict(np.full((1, 4, 4, 3), 255.0), verbose=0)
    np.testing.assert_allclose(features, [[3.0, 3.0]], rtol=1e-6)
    default = tlk.build_feature_extractor(f"hub:{tmp_path / 'fixed'}")
    assert default.input_shape == (None, 8, 8, 3)


def test_text_module_takes_strings_and_round_trips(text_module, tmp_path):
    model = tlk.build_classifier(
        f"hub:{text_module}", num_classes=2, freeze="none"
    )
    assert model.input_shape == (None,)
    texts = np.array(["win a prize now", "see you at noon"] * 4, object)
    labels = np.array([1, 0] * 4)
    table = values(_hub(model).weights)
    model.compile()
    model.fit(texts, labels, epochs=2, verbose=0)
    assert_all_changed(table, values(_hub(model).weights))
    path = str(tmp_path / "text.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        loaded.predict(texts, verbose=0), model.predict(texts, verbose=0)
    )


def test_signature_and_output_key(text_module):
    layer = tlk.bases.HubLayer(
        text_module, signature="serving_default", output_key="norm"
    )
    embedding = tlk.bases.HubLayer(
        text_module, signature="serving_default", output_key="embedding"
    )
    sentences = tf.constant(["a b c", "d"])
    np.testing.assert_allclose(
        layer(sentences), np.linalg.norm(embedding(sentences), axis=1)
    )
    assert layer.get_config()["output_key"] == "norm"
    with pytest.raises(ValueError, match=r"output_key.*'embedding', 'norm'"):
        tlk.bases.HubLayer(text_module, signature="serving_default")(sentences)
    with pytest.raises(ValueError, match="no signature 'serve'"):
        tlk.bases.HubLayer(text_module, signature="serve")


def test_bad_inputs_give_clear_errors(image_module, text_module):
    with pytest.raises(ValueError, match="input_shape"):
        tlk.build_classifier(f"hub:{image_module}", num_classes=2)
    with pytest.raises(ValueError, match=r"input_shape=\(\)"):
        tlk.build_classifier(
            f"hub:{text_module}", num_classes=2, input_shape=(10,)
        )
    with pytest.raises(ValueError, match="own pretrained weights"):
        tlk.build_classifier(
            f"hub:{image_module}",
            num_classes=2,
            input_shape=(16, 16, 3),
            weights=None,
        )
    with pytest.raises(ValueError, match="base_kwargs"):
        tlk.build_classifier(
            f"hub:{image_module}",
            num_classes=2,
            input_shape=(16, 16, 3),
            base_kwargs={"alpha": 1.0},
        )


def test_missing_handles_name_the_handle_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(
        tlk.bases.HubModuleNotFoundError, match="no such folder"
    ) as error:
        tlk.build_classifier("hub:/no/such/module", num_classes=2)
    assert "/no/such/module" in str(error.value)
    assert str(tmp_path / "cache") in str(error.value)


def test_url_handles_use_the_tfhub_cache(image_module, tmp_path, monkeypatch):
    pytest.importorskip("tensorflow_hub")
    url = "https://tfhub.dev/tlkeras/test/image/1"
    cache = tmp_path / "cache"
    digest = hashlib.sha1(url.encode("utf8")).hexdigest()
    shutil.copytree(image_module, cache / digest)
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(cache))
    model = tlk.build_classifier(
        f"hub:{url}", num_classes=2, input_shape=(16, 16, 3)
    )
    assert _hub(model).get_config()["handle"] == url


def test_unfetchable_url_names_handle_and_cache(tmp_path, monkeypatch):
    tensorflow_hub = pytest.importorskip("tensorflow_hub")

    def offline(handle):
        raise OSError("Name or service not known")

    monkeypatch.setattr(tensorflow_hub, "resolve", offline)
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "cache"))
    url = "https://tfhub.dev/google/imagenet/mobilenet_v3_small_100_224/5"
    with pytest.raises(tlk.bases.HubModuleNotFoundError) as error:
        tlk.build_classifier(f"hub:{url}", num_classes=2)
    message = str(error.value)
    assert url in message and str(tmp_path / "cache") in message
    assert "Name or service not known" in message


UNTRUSTED_LOAD = """
import sys
import keras
import tlkeras as tlk
from tlkeras.bases import hub_layer

path, handle = sys.argv[1], sys.argv[2]
calls = []
original = hub_layer.resolve_handle
hub_layer.resolve_handle = lambda h: calls.append(h) or original(h)
try:
    keras.saving.load_model(path)
except Exception as error:
    assert "trusted_hub_handles" in str(error) and handle in str(error), error
    print("refused", calls)
else:
    raise SystemExit("loaded an untrusted module under safe_mode")
with tlk.bases.trusted_hub_handles([handle]):
    keras.saving.load_model(path)
print("trusted", len(calls))
keras.saving.load_model(path, safe_mode=False)
print("unsafe", len(calls))
"""


def test_untrusted_handles_are_refused_under_safe_mode(image_module, tmp_path):
    """A `.keras` file from elsewhere (another process here) cannot make
    load_model load a SavedModel the user has not trusted."""
    import subprocess
    import sys

    model = tlk.build_classifier(
        f"hub:{image_module}", num_classes=3, input_shape=(16, 16, 3)
    )
    path = str(tmp_path / "hub.keras")
    model.save(path)
    run = subprocess.run(
        [sys.executable, "-c", UNTRUSTED_LOAD, path, str(image_module)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    lines = run.stdout.split("\n")
    # Refused before the handle was resolved; then loaded when trusted.
    assert "refused []" in lines
    assert "trusted 1" in lines and "unsafe 2" in lines


def test_a_broken_hub_cache_is_named_not_called_missing(tmp_path, monkeypatch):
    """tensorflow_hub hands back an existing cache folder as it is; a
    folder left by an interrupted download must be reported as broken,
    with the folder to delete, not as a module missing from the cache."""
    import hashlib

    pytest.importorskip("tensorflow_hub")
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    handle = "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/1"
    folder = tmp_path / hashlib.sha1(handle.encode()).hexdigest()
    (folder / "variables").mkdir(parents=True)
    with pytest.raises(tlk.bases.HubModuleNotFoundError) as info:
        tlk.bases.hub_handles.resolve_handle(handle)
    message = str(info.value)
    assert "no saved_model.pb" in message and str(folder) in message
    assert "Delete" in message and "not in the cache" not in message


def test_a_hub_base_refuses_a_strategy_with_replicas(image_module):
    # Two logical CPUs must be set before TensorFlow starts: a new process.
    code = (
        "import sys, tensorflow as tf\n"
        "cpu = tf.config.list_physical_devices('CPU')[0]\n"
        "tf.config.set_logical_device_configuration(\n"
        "    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)\n"
        "import tlkeras as tlk\n"
        "strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])\n"
        "try:\n"
        "    with strategy.scope():\n"
        "        tlk.bases.HubLayer(sys.argv[1])\n"
        "except ValueError as error:\n"
        "    print(error)\n"
        "tlk.bases.HubLayer(sys.argv[1])  # no strategy: fine\n"
        "print('built outside')\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(image_module)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "MirroredStrategy does not mirror across its 2 replicas" in (
        run.stdout
    )
    assert "built outside" in run.stdout
