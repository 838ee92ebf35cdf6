"""One test per reliance on Keras internals (tlkeras/_utils/keras_internals.py).

Each checks the Keras behaviour the wrapper relies on or works around, so
a Keras upgrade that changes it fails here, by name, and not somewhere deep
in a training test.
"""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from tlkeras._utils import keras_internals as ki


def nested():
    inner = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, name="inner_dense")],
        name="inner",
    )
    return keras.Sequential(
        [keras.Input((3,)), inner, keras.layers.Dense(2, name="out")],
        name="outer",
    )


def test_flatten_layers_reaches_nested_layers():
    model = nested()
    names = [layer.name for layer in ki.flatten_layers(model)]
    assert names[0] == "outer"
    assert "inner_dense" in names and "out" in names
    assert "outer" not in [
        layer.name for layer in ki.flatten_layers(model, include_self=False)
    ]
    # What it works around: the public list stops at the top level.
    assert "inner_dense" not in [layer.name for layer in model.layers]


def test_set_own_trainable_does_not_cascade():
    model = nested()
    inner = model.get_layer("inner")
    ki.set_own_trainable(inner, False)
    assert not inner.trainable
    assert inner.get_layer("inner_dense").trainable
    # What it works around: Keras's setter cascades to every sublayer.
    inner.trainable = True
    inner.trainable = False
    assert not inner.get_layer("inner_dense").trainable


def test_own_variables_are_in_save_own_variables_order():
    dense = keras.layers.Dense(2)
    dense.build((None, 3))
    store = {}
    dense.save_own_variables(store)
    own = ki.own_variables(dense)
    assert [v.path for v in own] == [dense.kernel.path, dense.bias.path]
    for i, variable in enumerate(own):
        np.testing.assert_array_equal(store[str(i)], variable.numpy())


def test_own_trainable_variables_exclude_sublayers():
    model = nested()
    inner = model.get_layer("inner")
    assert ki.own_trainable_variables(inner) == []
    dense = inner.get_layer("inner_dense")
    assert {v.path for v in ki.own_trainable_variables(dense)} == {
        dense.kernel.path,
        dense.bias.path,
    }


def test_track_variable_makes_the_layer_own_it():
    layer = keras.layers.Layer(name="holder")
    variable = keras.Variable(np.ones(3, "float32"), name="w")
    ki.track_variable(layer, variable)
    assert layer.weights == [variable]
    assert layer.trainable_weights == [variable]


def test_adopted_variable_shares_the_tf_variable_storage():
    original = tf.Variable([1.0, 2.0], name="module/w")
    adopted = ki.AdoptedVariable(original, "w")
    adopted.assign([5.0, 6.0])
    np.testing.assert_array_equal(original.numpy(), [5.0, 6.0])
    original.assign([7.0, 8.0])
    np.testing.assert_array_equal(adopted.numpy(), [7.0, 8.0])


def test_current_learning_rate_evaluates_schedules():
    schedule = keras.optimizers.schedules.ExponentialDecay(1.0, 1, 0.5)
    optimizer = keras.optimizers.SGD(schedule)
    w = keras.Variable([1.0])
    optimizer.apply_gradients([(keras.ops.ones((1,)), w)])
    optimizer.apply_gradients([(keras.ops.ones((1,)), w)])
    rate = float(ki.current_learning_rate(optimizer))
    assert rate == pytest.approx(0.25)


def test_has_fixed_learning_rate():
    assert ki.has_fixed_learning_rate(keras.optimizers.Adam(1e-3))
    schedule = keras.optimizers.schedules.ExponentialDecay(1.0, 1, 0.5)
    assert not ki.has_fixed_learning_rate(keras.optimizers.Adam(schedule))


def test_tracked_variables_of_a_built_optimizer():
    w, b = keras.Variable([1.0]), keras.Variable([2.0])
    optimizer = keras.optimizers.Adam()
    assert ki.tracked_variables(optimizer) == []
    optimizer.build([w, b])
    assert [id(v) for v in ki.tracked_variables(optimizer)] == [id(w), id(b)]


def test_unbuild_optimizer_drops_state_and_accepts_new_variables():
    w, b = keras.Variable([1.0]), keras.Variable([2.0])
    optimizer = keras.optimizers.Adam()
    optimizer.apply_gradients([(keras.ops.ones((1,)), w)])
    # What it works around: a built optimizer refuses unknown variables.
    with pytest.raises(ValueError, match="Unknown variable"):
        optimizer.apply_gradients([(keras.ops.ones((1,)), b)])
    dropped = ki.unbuild_optimizer(optimizer)
    assert len(dropped) == 2  # Adam's two moments of w
    assert not optimizer.built
    assert int(optimizer.iterations) == 1  # created before build: kept
    optimizer.apply_gradients([(keras.ops.ones((1,)), b)])
    assert int(optimizer.iterations) == 2


def test_record_created_variables_links_slots_to_variables():
    w = keras.Variable([1.0], name="w")
    optimizer = keras.optimizers.Adam()
    created = []
    with ki.record_created_variables([optimizer], created):
        optimizer.build([w])
    slots = [slot for reference, slot in created if reference is w]
    assert len(slots) == 2
    # Unpatched afterwards: the class's methods are back.
    assert "add_variable" not in vars(optimizer)


def test_skip_single_replica_all_reduce_patches_one_instance():
    optimizer = keras.optimizers.SGD()
    other = keras.optimizers.SGD()
    # The private method it replaces must still exist.
    assert hasattr(optimizer, "_all_reduce_sum_gradients")
    ki.skip_single_replica_all_reduce(optimizer)
    pairs = [(tf.ones(1), keras.Variable([1.0]))]
    assert optimizer._all_reduce_sum_gradients(pairs) == pairs
    assert "_all_reduce_sum_gradients" not in vars(other)


def test_trainable_changes_need_a_retrace():
    model = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(2), keras.layers.Dense(1)]
    )
    model.compile(keras.optimizers.SGD(0.1), "mse")
    x, y = np.ones((4, 2), "float32"), np.zeros((4, 1), "float32")
    model.fit(x, y, verbose=0)
    model.layers[0].trainable = False
    before = model.layers[0].kernel.numpy()
    # What it works around: Keras keeps training a layer frozen after the
    # train function was traced (no warning either).
    model.fit(x, y, verbose=0)
    assert not np.array_equal(before, model.layers[0].kernel.numpy())
    optimizer = model.optimizer
    ki.unbuild_optimizer(optimizer)
    optimizer.build(model.trainable_variables)
    ki.retrace_train_function(model)
    before = model.layers[0].kernel.numpy()
    model.fit(x, y, verbose=0)
    np.testing.assert_array_equal(before, model.layers[0].kernel.numpy())


def test_quiet_end_of_data_silences_only_that_warning():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    data = tf.data.Dataset.from_tensor_slices(
        (np.ones((4, 2), "float32"), np.zeros((4, 1), "float32"))
    )
    data = data.filter(lambda x, y: True).batch(2)  # unknown length
    assert int(data.cardinality()) == int(tf.data.UNKNOWN_CARDINALITY)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(data, epochs=2, verbose=0)
    # The warning it matches by text is still Keras's.
    assert any("ran out of data" in str(w.message) for w in caught)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with ki.quiet_end_of_data(data, None):
            model.fit(data, epochs=2, verbose=0)
    assert not any("ran out of data" in str(w.message) for w in caught)


def test_in_safe_mode_follows_load_model(tmp_path):
    seen = []

    @keras.saving.register_keras_serializable(package="tlkeras_test")
    class Probe(keras.layers.Layer):
        @classmethod
        def from_config(cls, config):
            seen.append(ki.in_safe_mode())
            return cls(**config)

    model = keras.Sequential([keras.Input((2,)), Probe()])
    path = str(tmp_path / "probe.keras")
    model.save(path)
    keras.saving.load_model(path)
    keras.saving.load_model(path, safe_mode=False)
    assert seen == [True, False]
    assert ki.in_safe_mode() is None  # outside any load


@pytest.mark.parametrize(
    "layer, shape",
    [
        (keras.layers.Dense(3), (2, 4)),
        (keras.layers.Conv2D(3, 1), (2, 4, 4, 4)),
        (keras.layers.Embedding(5, 3), (2, 4)),
    ],
)
def test_lora_frozen_variable_is_the_unmerged_kernel(layer, shape):
    layer.build(shape)
    layer.enable_lora(2)
    frozen = ki.lora_frozen_variable(layer)
    before = frozen.numpy().copy()
    _, b = ki.lora_adapters(layer)
    b.assign(keras.ops.ones(b.shape))
    merged = layer.embeddings if hasattr(layer, "input_dim") else layer.kernel
    # The public property merges the adapters; the frozen weight does not.
    assert not frozen.trainable
    np.testing.assert_array_equal(frozen.numpy(), before)
    assert not np.allclose(keras.ops.convert_to_numpy(merged), before)


def test_dataset_ops_see_random_augmentation_and_shuffling():
    data = tf.data.Dataset.from_tensor_slices(np.zeros((8, 4, 4, 3), "f4"))
    flip = keras.layers.RandomFlip()
    plain, shuffled = data.batch(4), data.shuffle(8).batch(4)
    augmented = plain.map(flip)
    assert not ki.draws_random_numbers(plain)
    assert not ki.draws_random_numbers(shuffled)
    assert ki.draws_random_numbers(augmented)
    assert ki.shuffles(shuffled) and not ki.shuffles(plain)
    generated = tf.data.Dataset.from_generator(
        lambda: iter([1.0]), output_signature=tf.TensorSpec((), tf.float32)
    )
    assert ki.dataset_ops(generated) is None
    assert ki.draws_random_numbers(generated)  # cannot tell: assume so
    wrapped = data.map(lambda a: tf.py_function(lambda t: t, [a], tf.float32))
    assert ki.dataset_ops(wrapped) is None
    # Random draws anywhere: a tf.image op, a nested pipeline's map,
    # Dataset.random; and through zip, concatenate, cache and prefetch.
    images = data.map(tf.image.random_flip_left_right).batch(4)
    nested = tf.data.Dataset.range(2).interleave(lambda _: augmented)
    draws = tf.data.Dataset.zip((plain, tf.data.Dataset.random(seed=1)))
    for random in (images, nested, draws, plain.concatenate(augmented)):
        assert ki.draws_random_numbers(random.cache().prefetch(1))
    assert not ki.draws_random_numbers(plain.concatenate(shuffled).cache())


def test_dataset_ops_do_not_serialize_the_pipeline(monkeypatch):
    # Serializing copies every tensor the pipeline holds (seconds for a
    # gigabyte of arrays): the walk reads only its stages and functions.
    def refuse(*args, **kwargs):
        raise AssertionError("the pipeline was serialized")

    monkeypatch.setattr(tf.data.Dataset, "_as_serialized_graph", refuse)
    data = tf.data.Dataset.from_tensor_slices(np.zeros((8, 4, 4, 3), "f4"))
    assert ki.draws_random_numbers(data.map(keras.layers.RandomFlip()))
    assert ki.dataset_ops(data.batch(2)) >= {"TensorSliceDataset"}


def test_keras_still_needs_the_multi_worker_fixes():
    # keras-team/keras#20585: Keras 3.15's TensorFlow trainer averages the
    # first batch across workers (refused for PerReplica data) and reduces
    # scalar step outputs with axis=0. When this fails, Keras changed:
    # check whether multi_worker_reductions and local_batch are still
    # needed (tests/distributed runs the real thing).
    import inspect

    from keras.src.backend.tensorflow import trainer

    assert 'strategy.reduce("MEAN", v, axis=0)' in inspect.getsource(
        trainer.reduce_per_replica
    )
    assert "self.distribute_strategy.reduce(" in inspect.getsource(
        trainer.TensorFlowTrainer._maybe_symbolic_build
    )


def test_worker_index_and_backup_paths(tmp_path):
    assert ki.worker_index(tf.distribute.get_strategy()) == 0
    callback = keras.callbacks.BackupAndRestore(str(tmp_path / "a"))
    ki.set_backup_dir(callback, str(tmp_path / "b"))
    fresh = keras.callbacks.BackupAndRestore(str(tmp_path / "b"))
    for name in (
        "_weights_path",
        "_training_metadata_path",
        "_prev_weights_path",
        "_prev_training_metadata_path",
    ):
        assert getattr(callback, name) == getattr(fresh, name)


def test_quiet_retracing_silences_tensorflows_warning(caplog):
    # One Python function, a new tf.function (and trace) each time, as a
    # feature pass per extractor: TensorFlow warns from the fifth. Two
    # functions, since TensorFlow warns at most twice for one.
    def loud(x):
        return x + 1

    def quiet(x):
        return x + 1

    def traces(python_function, silence):
        caplog.clear()
        for _ in range(7):
            function = tf.function(python_function)
            if silence:
                ki.quiet_retracing(function)
            function(tf.constant(1.0))
        return [r for r in caplog.records if "retracing" in r.getMessage()]

    with caplog.at_level("WARNING", logger="tensorflow"):
        assert traces(loud, silence=False)  # the warning worked around
        assert not traces(quiet, silence=True)
