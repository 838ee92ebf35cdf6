"""Rebuild a built optimizer on a new variable list, keeping its state.

A built Keras optimizer refuses variables it has not seen ("Unknown
variable"), and recompiling throws away every slot (Adam's moments, SGD's
momentum) and the step count. `rebuild_optimizer` rebuilds the same
optimizer object in place on the variables trainable now: variables that
were already trained keep their slots bit for bit, new ones get fresh
slots, and frozen ones lose theirs (no state for frozen layers). The
object stays the same, so callbacks and user references to it stay valid.
"""

import contextlib
from typing import Sequence

import keras
import numpy as np

from tlkeras._utils import keras_internals
from tlkeras.training.group_optimizer import GroupOptimizer


def optimizer_tree(optimizer) -> list:
    """`optimizer` and every optimizer nested in it (`LossScaleOptimizer`'s
    inner one, `MultiOptimizer`'s sub-optimizers), parents first.

    Example:

    >>> inner = keras.optimizers.Adam()
    >>> outer = keras.optimizers.LossScaleOptimizer(inner)
    >>> [type(o).__name__ for o in optimizer_tree(outer)]
    ['LossScaleOptimizer', 'Adam']
    """
    inner = getattr(optimizer, "inner_optimizer", None)
    children = [inner] if inner is not None else []
    children += list(getattr(optimizer, "optimizers", None) or [])
    result = [optimizer]
    for child in children:
        result += optimizer_tree(child)
    return result


def unpin_train_graphs(optimizer) -> None:
    """Let the train steps traced with `optimizer` (and every optimizer
    it wraps) be freed with their model.

    Keras's TensorFlow optimizers all-reduce gradients through the replica
    context even without a distribution strategy, and every trace of that
    all-reduce registers a custom gradient in TensorFlow's global registry
    that keeps the traced step's whole graph alive for the rest of the
    process (tensorflow/tensorflow#80895): a model traced anew for every
    trial, fold or strategy grows memory and slows every garbage
    collection. Without a strategy the all-reduce (a sum over one replica)
    is skipped; under one it runs as before. tlkeras models call this when
    they make their train function.

    Example:

    >>> optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam())
    >>> unpin_train_graphs(optimizer)
    >>> import numpy as np
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer, "mse")
    >>> model.fit(np.ones((4, 2)), np.ones(4), verbose=0).history["loss"][0] > 0
    True
    """
    for opt in optimizer_tree(optimizer):
        keras_internals.skip_single_replica_all_reduce(opt)


def same_variables(optimizer, variables: Sequence) -> bool:
    """Whether a built optimizer updates exactly the ones of `variables` it
    should (a `GroupOptimizer` leaves out its zero-rate groups).

    Example:

    >>> w = keras.Variable([1.0])
    >>> opt = keras.optimizers.SGD()
    >>> opt.build([w])
    >>> same_variables(opt, [w])
    True
    """
    if isinstance(optimizer, GroupOptimizer):
        variables = optimizer.updated_variables(variables)
    tracked = keras_internals.tracked_variables(optimizer)
    return [id(v) for v in tracked] == [id(v) for v in variables]


def rebuild_optimizer(optimizer, variables: Sequence, strategy=None) -> None:
    """Rebuild `optimizer` in place on `variables`, keeping known state.

    Slot variables are matched by name: Keras names a slot after the path
    of the variable it belongs to (`dense_kernel_momentum`), so a variable
    that stays trainable finds its old slots again. The iteration count and
    the learning-rate variable are kept as they are.

    Args:
        optimizer: a built or unbuilt `keras.optimizers.Optimizer`,
            `LossScaleOptimizer` included.
        variables: the variables it should update from now on.
        strategy: the `tf.distribute` strategy the model trains under, if
            any; new slots are created in its scope.

    Example:

    >>> w = keras.Variable([1.0, 2.0])
    >>> opt = keras.optimizers.Adam(0.1)
    >>> _ = opt.apply_gradients([(keras.ops.ones((2,)), w)])
    >>> b = keras.Variable([0.5])
    >>> rebuild_optimizer(opt, [w, b])
    >>> int(opt.iterations)
    1
    """
    old_ids = {
        id(v)
        for opt in optimizer_tree(optimizer)
        for v in keras_internals.tracked_variables(opt)
    }
    was_built = optimizer.built
    saved = {}
    if was_built:
        for opt in optimizer_tree(optimizer):
            for variable in keras_internals.unbuild_optimizer(opt):
                saved.setdefault(variable.name, []).append(
                    np.array(keras.ops.convert_to_numpy(variable))
                )
    scope = strategy.scope() if strategy is not None else _null()
    created = []
    with (
        scope,
        keras_internals.record_created_variables(
            optimizer_tree(optimizer), created
        ),
    ):
        optimizer.build(list(variables))
    if not was_built:
        return
    taken = {}
    for reference, slot in created:
        if reference is not None and id(reference) not in old_ids:
            continue  # a newly trainable variable: fresh slots
        values = saved.get(slot.name, [])
        index = taken.get(slot.name, 0)
        if index < len(values):
            slot.assign(values[index])
            taken[slot.name] = index + 1


@contextlib.contextmanager
def _null():
    yield
