"""Make trainability changes take effect on a compiled model.

Keras 3 reads `trainable` when it traces the train function and builds the
optimizer; a change afterwards is silently ignored (a layer frozen after a
first `fit` keeps training, one unfrozen stays frozen). `sync_trainable`
rebuilds what depends on it.
"""

import keras

from tlkeras.training.learning_rate import unwrap
from tlkeras.training.optimizer_state import rebuild_optimizer
from tlkeras.training.optimizer_state import same_variables
from tlkeras.training.optimizer_state import skip_single_replica_all_reduce


def trainable_state(model: keras.Model) -> tuple:
    """The `trainable` flag (and `bn` mode, where a layer has one) of every
    layer, in a comparable form."""
    return tuple(
        (id(layer), layer.trainable, getattr(layer, "bn", None))
        for layer in model._flatten_layers()
    )


def sync_trainable(model: keras.Model) -> bool:
    """Make the model's current `trainable` flags take effect.

    If the optimizer was built on other variables it is rebuilt in place
    (state kept for variables that stay trainable, fresh state for newly
    trainable ones, none for frozen ones), and a new train function replaces
    the traced one (it traces on its first step). Safe inside `fit`, e.g.
    from a callback: Keras looks the train function up at every step.
    Cheap when nothing changed.

    Args:
        model: a `keras.Model`, compiled or not.

    Returns:
        Whether anything had to be rebuilt.

    Example:

    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> model.layers[0].trainable = False
    >>> sync_trainable(model)
    False
    """
    changed = False
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        skip_single_replica_all_reduce(optimizer)
    if optimizer is not None and optimizer.built:
        variables = model.trainable_variables
        if not same_variables(unwrap(optimizer), variables):
            rebuild_optimizer(optimizer, variables, model.distribute_strategy)
            changed = True
    state = trainable_state(model)
    traced = getattr(model, "train_function", None) is not None
    if traced and state != getattr(model, "_tlk_trainable_state", None):
        changed = True
    model._tlk_trainable_state = state
    if changed and traced:
        # The base class's method: a subclass override may call us.
        keras.Model.make_train_function(model, force=True)
    return changed
