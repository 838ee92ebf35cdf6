"""Trainability changes made after a first `fit` take effect."""

import keras
import numpy as np
import pytest

import tlkeras as tlk
from tests.helpers import assert_all_changed
from tests.helpers import assert_all_equal
from tests.helpers import image_data
from tests.helpers import tiny_cnn
from tests.helpers import values

X, Y = image_data(n=32, size=16)


def trained_model(freeze="base", optimizer=None):
    model = tlk.build_classifier(tiny_cnn(), 3, freeze=freeze, bn="train")
    model.compile(optimizer=optimizer or keras.optimizers.Adam(1e-2))
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    return model


def group(model, name):
    return next(g for g in tlk.layer_groups(model) if g.name == name)


def test_freezing_after_fit_stops_training():
    model = trained_model(freeze="none")
    tlk.freezing.apply(model, 1)
    frozen = group(model, "conv_a").variables + group(model, "conv_b").variables
    before = values(frozen)
    trained_before = values(group(model, "conv_c").trainable_variables)
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    assert_all_equal(before, values(frozen))
    assert_all_changed(
        trained_before, values(group(model, "conv_c").trainable_variables)
    )


def test_unfreezing_after_fit_starts_training():
    model = trained_model(freeze="base")
    tlk.freezing.unfreeze(model)
    base = group(model, "conv_a").trainable_variables
    assert base
    before = values(base)
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    assert_all_changed(before, values(base))


def test_unfreezing_keeps_the_optimizer_state_of_trained_variables():
    model = trained_model(freeze="base")
    optimizer = model.optimizer
    head_kernel = model.head.output_layers[-2].kernel
    slots = [v for v in optimizer.variables if "output_kernel" in v.name]
    assert len(slots) == 2  # Adam's two moments
    slots_before = values(slots)
    iterations = int(optimizer.iterations)
    tlk.freezing.unfreeze(model)
    tlk.training.sync_trainable(model)  # what the next fit does first
    assert model.optimizer is optimizer
    assert int(optimizer.iterations) == iterations == 4
    new_slots = [v for v in optimizer.variables if "output_kernel" in v.name]
    assert_all_equal(slots_before, values(new_slots))
    # New variables get fresh (zero) state; frozen ones get none.
    conv_a_slots = [v for v in optimizer.variables if "conv_a_kernel" in v.name]
    assert len(conv_a_slots) == 2
    assert all(not np.any(v) for v in values(conv_a_slots))
    assert len(optimizer._trainable_variables) == len(model.trainable_variables)
    assert id(head_kernel) in {id(v) for v in optimizer._trainable_variables}


def test_freezing_drops_optimizer_state_of_frozen_variables():
    model = trained_model(freeze="none")
    count = len(model.optimizer.variables)
    tlk.freezing.apply(model, "base")
    tlk.training.sync_trainable(model)  # what the next fit does first
    assert not [v for v in model.optimizer.variables if "conv_a" in v.name]
    assert len(model.optimizer.variables) < count


def test_user_flips_on_a_transfer_model_take_effect_in_fit():
    model = trained_model(freeze="base")
    # Plain Keras would silently keep conv_c frozen here.
    model.base.get_layer("conv_c").trainable = True
    kernel = model.base.get_layer("conv_c").kernel
    before = values([kernel])
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    assert_all_changed(before, values([kernel]))
    # ...and a layer frozen by hand stops training.
    model.base.get_layer("conv_c").trainable = False
    before = values([kernel])
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    assert_all_equal(before, values([kernel]))


def test_plain_keras_model_after_apply():
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, name="d1"),
            keras.layers.Dense(2, name="out"),
        ]
    )
    model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "mse")
    x = np.ones((8, 4), "float32")
    y = np.zeros((8, 2), "float32")
    model.fit(x, y, verbose=0)
    tlk.freezing.apply(model, 0)
    # A plain keras.Model has no make_train_function of ours: say when.
    tlk.training.sync_trainable(model)
    before = values(model.layers[0].weights)
    model.fit(x, y, verbose=0)
    assert_all_equal(before, values(model.layers[0].weights))


@pytest.mark.parametrize("policy", ["mixed_float16"])
def test_rebuild_keeps_loss_scale_optimizer_state(policy):
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = trained_model(freeze="base")
        optimizer = model.optimizer
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        scale = float(optimizer.dynamic_scale)
        tlk.freezing.unfreeze(model)
        assert float(optimizer.dynamic_scale) == scale
        kernel = model.base.get_layer("conv_a").kernel
        before = values([kernel])
        model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
        assert_all_changed(before, values([kernel]))
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_rebuild_works_with_keras_multi_optimizer():
    head_opt = keras.optimizers.Adam(1e-2)
    base_opt = keras.optimizers.SGD(1e-2, momentum=0.9)
    optimizer = keras.optimizers.MultiOptimizer(
        keras.optimizers.OptimizerMap(head_opt, {"conv_.*": base_opt})
    )
    model = trained_model(freeze="base", optimizer=optimizer)
    assert not base_opt.built  # nothing of the base trained yet

    def head_slots():
        return [v for v in head_opt.variables if "output_" in v.name]

    before_slots = values(head_slots())
    assert len(before_slots) == 4  # Adam moments of the kernel and bias
    tlk.freezing.unfreeze(model)
    assert_all_equal(before_slots, values(head_slots()))
    kernel = model.base.get_layer("conv_a").kernel
    before = values([kernel])
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    assert_all_changed(before, values([kernel]))
    momentum = [v for v in base_opt.variables if "conv_a_kernel" in v.name]
    assert len(momentum) == 1 and np.any(values(momentum)[0])
