"""Make the current `trainable` flags take effect: the one place that does.

Keras 3 reads `trainable` when it traces the train function and builds the
optimizer; a change afterwards is silently ignored (a layer frozen after a
first `fit` keeps training, one unfrozen stays frozen). `tlkeras.freezing`
only sets flags; `sync_trainable` rebuilds what depends on them. One caller
decides when: `tlkeras.TransferModel.make_train_function` (so `fit` picks up
any change by itself), the unfreezing callbacks inside `fit`, and you, after
changing the flags of a plain `keras.Model` that was already trained.
"""

import keras

from tlkeras._utils import keras_internals
from tlkeras.freezing import lora
from tlkeras.training.learning_rate import inner_optimizer
from tlkeras.training.optimizer_state import rebuild_optimizer
from tlkeras.training.optimizer_state import same_variables
from tlkeras.training.optimizer_state import unpin_train_graphs

# The trainability a model's train function was traced with: a cache of
# what the flags were, kept to notice a change, never read as the truth.
_TRACED_WITH = "_tlk_traced_trainability"


def _flags(model: keras.Model) -> tuple:
    return tuple(
        (id(layer), layer.trainable)
        for layer in keras_internals.flatten_layers(model)
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
    # Keras's `trainable` setter unfreezes LoRA-adapted kernels with their
    # layer; they never train.
    lora.lock_all(model)
    changed = False
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        unpin_train_graphs(optimizer)
    if optimizer is not None and optimizer.built:
        variables = model.trainable_variables
        if not same_variables(inner_optimizer(optimizer), variables):
            rebuild_optimizer(optimizer, variables, model.distribute_strategy)
            changed = True
    flags = _flags(model)
    traced = getattr(model, "train_function", None) is not None
    if traced and flags != getattr(model, _TRACED_WITH, None):
        changed = True
    setattr(model, _TRACED_WITH, flags)
    if changed and traced:
        keras_internals.retrace_train_function(model)
    return changed
