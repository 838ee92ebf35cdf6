"""`fit_cached`: the head trained on features computed once."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import tlkeras as tlk
from tests.helpers import assert_all_changed
from tests.helpers import assert_all_equal
from tests.helpers import graphs_left_by
from tests.helpers import image_data
from tests.helpers import values
from tlkeras.builders.head_checkpoint import is_head_checkpoint
from tlkeras.cached import head_training

X, Y = image_data(n=24, size=32, num_classes=3)
XV, YV = image_data(n=8, size=32, num_classes=3, seed=1)


def mobilenet(seed=0, **kwargs):
    """A base with its preprocessing inside (MobileNetV2 scales to [-1, 1])."""
    keras.utils.set_random_seed(seed)
    model = tlk.build_classifier(
        "mobilenet_v2",
        3,
        input_shape=(32, 32, 3),
        weights=None,
        base_kwargs={"alpha": 0.35},
        **kwargs,
    )
    assert model.preprocessing is not None
    return model


@pytest.fixture(scope="module")
def pair():
    a, b = mobilenet(), mobilenet()
    b.set_weights(a.get_weights())
    return a, b


def test_equals_normal_training_of_the_head(pair):
    cached, plain = pair
    for model in pair:
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
    base = values(cached.base.weights)
    head_before = values(cached.head.weights)
    history = tlk.strategies.fit_cached(
        cached,
        X,
        Y,
        epochs=3,
        batch_size=8,
        shuffle=False,
        validation_data=(XV, YV),
        verbose=0,
    )
    expected = plain.fit(
        X,
        Y,
        epochs=3,
        batch_size=8,
        shuffle=False,
        validation_data=(XV, YV),
        verbose=0,
    )
    assert_all_changed(head_before, values(cached.head.weights))
    for a, b in zip(values(cached.head.weights), values(plain.head.weights)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(
            history.history[key], expected.history[key], rtol=1e-4
        )
    assert_all_equal(base, values(cached.base.weights))
    # The model itself now predicts with the trained head.
    np.testing.assert_allclose(
        cached.predict(XV, verbose=0),
        plain.predict(XV, verbose=0),
        rtol=1e-4,
        atol=1e-6,
    )
    assert history.model is cached


def test_refuses_a_trainable_base():
    model = mobilenet(freeze=tlk.freezing.TrainTop(1))
    model.compile()
    with pytest.raises(ValueError, match=r"these base groups train: \['top'\]"):
        tlk.strategies.fit_cached(model, X, Y, verbose=0)
    with pytest.raises(TypeError, match="TransferModel"):
        tlk.strategies.fit_cached(keras.Sequential([keras.Input((2,))]), X, Y)


def test_refuses_augmented_data_unless_copies_are_asked(tmp_path):
    model = mobilenet()
    model.compile()
    augmented = tlk.data.image_dataset(
        (X, Y), image_size=(32, 32), batch_size=8, augment="light", seed=0
    )
    with pytest.raises(ValueError, match="augment_copies=k"):
        tlk.strategies.fit_cached(model, augmented, verbose=0)
    batches = []

    class Count(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            batches.append(batch)

    tlk.strategies.fit_cached(
        model,
        augmented,
        augment_copies=2,
        batch_size=8,
        callbacks=[Count()],
        steps_per_execution=1,  # batch callbacks at every batch
        verbose=0,
    )
    assert len(batches) == 2 * len(X) // 8  # two augmented passes cached
    with pytest.raises(ValueError, match="would be identical"):
        tlk.strategies.fit_cached(model, X, Y, augment_copies=2, verbose=0)


def test_refuses_any_pipeline_that_augments():
    # Not only tlkeras.data's `augment=`: a user's own random map too.
    model = mobilenet()
    model.compile()
    data = tf.data.Dataset.from_tensor_slices((X, Y))
    flip = keras.layers.RandomFlip("horizontal")
    for augmented in (
        data.batch(8).map(lambda x, y: (flip(x), y)),
        data.map(lambda x, y: (tf.image.random_flip_left_right(x), y)).batch(8),
    ):
        with pytest.raises(ValueError, match="pipeline draws random numbers"):
            tlk.strategies.fit_cached(model, augmented, verbose=0)
        # One pass as it comes, when asked.
        history = tlk.strategies.fit_cached(
            model, augmented, augment_copies=1, verbose=0
        )
        assert len(history.history["loss"]) == 1
    # Shuffling is no augmentation: the same examples, another order.
    shuffled = data.shuffle(len(X), seed=0).batch(8)
    assert not tlk.cached.augments(shuffled)
    tlk.strategies.fit_cached(model, shuffled, verbose=0)


def test_file_cache_trains_the_same_and_cleans_up(tmp_path):
    a, b = mobilenet(seed=4), mobilenet(seed=4)
    b.set_weights(a.get_weights())
    for model in (a, b):
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
    data = tlk.data.image_dataset(
        (X, Y), image_size=(32, 32), batch_size=8, shuffle=False
    )
    tlk.strategies.fit_cached(a, data, epochs=2, shuffle=False, verbose=0)
    tlk.strategies.fit_cached(
        b,
        data,
        epochs=2,
        shuffle=False,
        cache_dir=str(tmp_path),
        validation_data=data,
        verbose=0,
    )
    for x, y in zip(values(a.head.weights), values(b.head.weights)):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-7)
    assert os.listdir(tmp_path) == []


def test_callbacks_act_on_the_full_model(tmp_path):
    model = mobilenet()
    model.compile(
        optimizer=tlk.training.discriminative(model, "adam", lr=(1e-4, 1e-2))
    )
    path = str(tmp_path / "best.keras")
    history = tlk.strategies.fit_cached(
        model,
        X,
        Y,
        epochs=2,
        validation_data=(XV, YV),
        callbacks=[keras.callbacks.ModelCheckpoint(path)],
        verbose=0,
    )
    assert history.history["lr/head"] == pytest.approx([1e-2, 1e-2])
    saved = keras.saving.load_model(path)
    assert isinstance(saved, tlk.TransferModel)
    np.testing.assert_allclose(
        saved.predict(XV, verbose=0), model.predict(XV, verbose=0), atol=1e-6
    )


def test_steps_per_execution_default_and_errors():
    """Several head steps per graph call unless the model's compile chose;
    batch callbacks then see every that-many batches, as Keras documents."""
    model = mobilenet()
    head = head_training.head_steps_per_execution
    model.compile()
    assert head(model) == head_training.HEAD_STEPS_PER_EXECUTION
    model.compile(steps_per_execution=3)
    assert head(model) == 3 and head(model, 1) == 1
    for bad in (0, 2.0, True):
        with pytest.raises(ValueError, match="steps_per_execution="):
            tlk.strategies.fit_cached(
                model, X, Y, steps_per_execution=bad, verbose=0
            )


def test_batch_callbacks_never_see_a_step_past_the_epoch(tmp_path):
    """An epoch shorter than the steps per graph call: Keras would report
    step 16 of 3 to the progress bar and to batch-level callbacks."""
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append(batch)
    )
    model = mobilenet()
    model.compile()
    for cache_dir in (None, str(tmp_path)):
        seen.clear()
        tlk.strategies.fit_cached(
            model,
            X,
            Y,
            epochs=2,
            batch_size=8,  # 3 batches
            callbacks=[record],
            cache_dir=cache_dir,
            verbose=0,
        )
        assert seen == [2, 2], cache_dir
    seen.clear()
    tlk.strategies.fit_cached(
        model,
        X,
        Y,
        epochs=2,
        batch_size=4,
        validation_split=0.25,  # 18 of 24 examples train: 5 batches
        callbacks=[record],
        verbose=0,
    )
    assert seen == [4, 4]
    # Longer than one call: the steps are shared, 2 calls of 12 (not 16
    # and 8, reported as batches 15 and 31).
    seen.clear()
    tlk.strategies.fit_cached(
        model, X, Y, batch_size=1, callbacks=[record], verbose=0
    )
    assert seen == [11, 23]


def test_file_cache_logs_no_tensorflow_warning(tmp_path):
    """TensorFlow's file cache logs "did not fully read the dataset being
    cached" after every complete pass (tensorflow/tensorflow#60174): the
    features are saved another way, and a user's log stays clean."""
    code = f"""
import numpy as np, keras, tlkeras as tlk
x = np.random.default_rng(0).uniform(0, 255, (20, 16, 16, 3)).astype("f4")
y = np.arange(20) % 2
base = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3)])
model = tlk.build_classifier(base, 2)
model.compile()
tlk.strategies.fit_cached(model, x, y, epochs=2, batch_size=8, verbose=0,
    validation_data=(x, y), cache_dir={str(tmp_path)!r})
print("trained")
"""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="0")
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "trained"
    assert "I0000" in run.stderr  # TensorFlow's log is on
    assert "cache_dataset_ops" not in run.stderr
    assert "did not fully read" not in run.stderr


def test_uncompiled_model_is_refused_as_keras_would():
    with pytest.raises(ValueError, match="must be compiled"):
        tlk.strategies.fit_cached(mobilenet(), X, Y, verbose=0)


def test_head_checkpoints_hold_the_requested_epochs_values(tmp_path):
    """The tuner's trials write their best-epoch checkpoint once, at the
    end, head only: it must hold that epoch's head and optimizer, not the
    last one's, and restore into a full model with the same base."""
    model = mobilenet(seed=6)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    path = str(tmp_path / "epoch0.weights.h5")
    snapshot = {}
    other = str(tmp_path / "other.weights.h5")

    class SaveEveryEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.save_weights(other)

    class SaveFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                self.model.save_weights(path)
                snapshot["head"] = values(model.head.weights)
                snapshot["optimizer"] = values(model.optimizer.variables)
            assert not os.path.exists(path)  # deferred

    extractor = tlk.strategies.extractor_of(model)
    features = extractor.predict(X, verbose=0)
    first = SaveFirstEpoch()
    tlk.strategies.fit_head(
        model,
        (features, Y),
        epochs=3,
        batch_size=8,
        callbacks=[first, SaveEveryEpoch()],
        head_checkpoints=[first],
        verbose=0,
    )
    # Only the callbacks named are deferred and head-only.
    assert is_head_checkpoint(path) and not is_head_checkpoint(other)
    final = values(model.head.weights)
    assert_all_changed(snapshot["head"], final)
    # The live model keeps its final values...
    assert_all_equal(final, values(model.head.weights))
    # ...and the file holds epoch 0's, optimizer state included.
    restored = mobilenet(seed=6)
    restored.compile(optimizer=keras.optimizers.Adam(1e-2))
    restored.optimizer.build(restored.trainable_variables)
    restored.load_weights(path)
    assert_all_equal(snapshot["head"], values(restored.head.weights))
    assert_all_equal(
        snapshot["optimizer"], values(restored.optimizer.variables)
    )


def test_validation_batch_size_is_honoured(monkeypatch):
    # The cached arrays go to `fit` as datasets; `validation_batch_size`
    # still sets the validation batches (Keras would ignore it for a
    # dataset), and the loss is the same mean.
    batches = []
    make = head_training.batches

    def dataset(x, y, batch_size, **kwargs):
        batches.append((len(x), batch_size))
        return make(x, y, batch_size, **kwargs)

    monkeypatch.setattr(head_training, "batches", dataset)
    losses = {}
    for size in (None, 3):
        model = mobilenet()
        model.compile()
        history = tlk.strategies.fit_cached(
            model,
            X,
            Y,
            epochs=1,
            batch_size=8,
            validation_data=(XV, YV),
            validation_batch_size=size,
            shuffle=False,
            verbose=0,
        )
        losses[size] = history.history["val_loss"][0]
    assert batches == [(24, 8), (8, 8), (24, 8), (8, 3)]
    assert losses[3] == pytest.approx(losses[None], rel=1e-5)


def test_validation_with_sample_weights_goes_to_fit_as_given():
    base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)])
    model = tlk.build_classifier(base, 2)
    model.compile()
    rng = np.random.default_rng(0)
    features = rng.random((12, 8)).astype("float32")
    labels = np.arange(12) % 2
    weights = np.ones(12, "float32")
    history = head_training.fit_head(
        model,
        (features, labels),
        validation=(features, labels, weights),
        epochs=1,
        verbose=0,
    )
    assert len(history.history["val_loss"]) == 1


def test_repeated_head_training_leaves_no_traced_graph_behind():
    # Every tuner trial traces a new head model. Keras's gradient all-reduce
    # registers a custom gradient per trace, which kept each traced train
    # step's graph alive for the rest of the process.
    rng = np.random.default_rng(0)
    features = rng.normal(size=(16, 8)).astype("float32")
    labels = np.arange(16) % 2

    def train_once():
        base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)])
        model = tlk.build_classifier(base, 2, freeze="base")
        model.compile()
        head_training.fit_head(model, (features, labels), epochs=1, verbose=0)

    assert graphs_left_by(train_once) == 0
