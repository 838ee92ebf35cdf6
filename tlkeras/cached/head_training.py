"""Train a `TransferModel`'s head alone, on features computed once.

Shared by `fit_cached` and the tuner's frozen-base trials: a small Keras
model made of the model's own head layers trains with `fit` (callbacks,
History, the model's optimizer, loss and metrics), while every callback
sees the full model, so checkpoints, `EarlyStopping(restore_best_weights=
True)` and `ReduceLROnPlateau` act on what the user keeps.
"""

import keras
import numpy as np
import tensorflow as tf

from tlkeras.builders.head_checkpoint import head_state
from tlkeras.builders.head_checkpoint import save_head_checkpoint
from tlkeras.cached.features import batches
from tlkeras.cached.features import is_pooling_head
from tlkeras.callbacks import GroupLearningRates
from tlkeras.training import GroupOptimizer
from tlkeras.training import inner_optimizer
from tlkeras.training import unpin_train_graphs


class _PooledHead(keras.layers.Layer):
    """A tlkeras head applied to features it already pooled (the cache of
    `extractor_of` holds pooled vectors): the head's own layers, shared."""

    def __init__(self, head, **kwargs):
        super().__init__(name=f"{head.name}_on_pooled_features", **kwargs)
        self.head = head

    def call(self, inputs, training=None):
        return self.head.call_pooled(inputs, training=training)

    def compute_output_shape(self, input_shape):
        return self.head.compute_output_shape(input_shape)


def head_model(
    model: keras.Model, feature_shape, *, steps_per_execution: int = 1
) -> keras.Model:
    """Features -> the model's outputs, through the model's head layers
    (shared, not copied), compiled as the model is. Rank-2 features of a
    tlkeras head are taken as already pooled (`extractor_of`).

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)]), 2)
    >>> model.compile()
    >>> head_model(model, (8,)).output_shape
    (None, 2)
    """
    if not model.compiled:
        raise ValueError(
            f"Model {model.name!r} must be compiled before training its "
            "head on cached features: call `model.compile(...)` first (a "
            "tlkeras model's `compile()` picks the task's loss and metrics)."
        )
    inputs = keras.Input(tuple(feature_shape), name="features")
    layer = model.head
    base_rank = len(model.base.output_shape)
    if len(feature_shape) == 1 and base_rank > 2 and is_pooling_head(layer):
        layer = _PooledHead(layer)
    head = keras.Model(inputs, layer(inputs), name=f"{model.name}_head")
    config = model.get_compile_config()
    options = {}
    for key in ("metrics", "weighted_metrics", "loss_weights"):
        if config.get(key) is not None:
            options[key] = keras.saving.deserialize_keras_object(config[key])
    head.compile(
        optimizer=model.optimizer,
        loss=model.loss,
        steps_per_execution=steps_per_execution,
        **options,
    )
    return head


# Head-training steps per graph call unless the user chose: a head's step
# costs about what calling into the graph costs (bench_fit_cached.py).
HEAD_STEPS_PER_EXECUTION = 16


def head_steps_per_execution(model: keras.Model, value=None) -> int:
    """`value` checked, or the model's own `steps_per_execution` when its
    `compile` set one above 1, else `HEAD_STEPS_PER_EXECUTION`."""
    if value is None:
        own = getattr(model, "steps_per_execution", 1) or 1
        return own if own > 1 else HEAD_STEPS_PER_EXECUTION
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(
            "`steps_per_execution` must be an int >= 1 or None. Received: "
            f"steps_per_execution={value!r}"
        )
    return value


def fit_head(
    model: keras.Model,
    train,
    *,
    validation=None,
    batch_size: int = 32,
    callbacks=None,
    shuffle: bool = True,
    head_checkpoints=(),
    steps_per_execution: int = 1,
    **fit_kwargs,
) -> keras.callbacks.History:
    """Fit `model`'s head on features.

    Args:
        model: a compiled `tlkeras.TransferModel`.
        train: `(features, labels)` arrays or a `tf.data.Dataset` of
            `(features, labels)` batches.
        validation: the same for validation, or `None`.
        batch_size: int, for arrays. Defaults to `32`.
        callbacks: callbacks; they see the full model. Defaults to `None`.
        shuffle: bool, for arrays. Defaults to `True`.
        head_checkpoints: callbacks among `callbacks` whose `save_weights`
            requests are written once, when training ends (the latest
            request, with the values of the epoch that made it), as head
            checkpoints (`tlkeras.builders.save_head_checkpoint`: the head
            and optimizer state, which `TransferModel.load_weights`
            restores into a model with the same base). The base is frozen,
            so nothing else differs between epochs; the tuner's trials pass
            KerasTuner's checkpoint callback. Defaults to `()`.
        steps_per_execution: int, as in `compile`. Defaults to `1`.
        **fit_kwargs: passed to `fit` (`epochs`, `verbose`,
            `initial_epoch`, `class_weight`...).

    Returns:
        The `History`, its `model` the full model.
    """
    if isinstance(train, tf.data.Dataset):
        shape = train.element_spec[0].shape[1:]
        x, y = train, None
        steps = int(train.cardinality())
    else:
        x, y = train
        shape = x.shape[1:]
        # Keras keeps the first floor(n * (1 - split)) for training.
        kept = int(len(x) * (1 - fit_kwargs.get("validation_split", 0.0)))
        steps = -(-kept // batch_size)
    if steps > 0 and not fit_kwargs.get("steps_per_epoch"):
        # The epoch's steps shared evenly among as many calls as they need:
        # Keras reports each call's last step as `start + steps per call`,
        # past the epoch's end (step 16 of an 8-step epoch, 32 of 24) to
        # the progress bar and batch-level callbacks.
        calls = -(-steps // steps_per_execution)
        steps_per_execution = -(-steps // calls)
    head = head_model(model, shape, steps_per_execution=steps_per_execution)
    # A plain Keras model, traced anew at every call (every tuner trial).
    unpin_train_graphs(head.optimizer)
    deferred = _SaveAtEnd(model)
    wrapped = [
        _OnFullModel(c, deferred if _among(c, head_checkpoints) else model)
        for c in callbacks or []
    ]
    if isinstance(inner_optimizer(model.optimizer), GroupOptimizer):
        wrapped.append(GroupLearningRates())
    if _plain_arrays(x, y, fit_kwargs):
        # Keras's array adapter costs ~0.15 s more per `fit` than a dataset
        # of the same batches (bench_tuning.py: a tenth of a trial).
        x = batches(x, y, batch_size, shuffle=shuffle).prefetch(
            tf.data.AUTOTUNE
        )
        if _array_pair(validation):
            size = fit_kwargs.pop("validation_batch_size", None) or batch_size
            validation = batches(*validation, size).prefetch(tf.data.AUTOTUNE)
    if isinstance(x, tf.data.Dataset):
        # A dataset shuffles itself (Keras warns when told to).
        history = head.fit(
            x,
            validation_data=validation,
            callbacks=wrapped,
            shuffle=False,
            **fit_kwargs,
        )
    else:
        history = head.fit(
            x,
            y,
            batch_size=batch_size,
            validation_data=validation,
            callbacks=wrapped,
            shuffle=shuffle,
            **fit_kwargs,
        )
    deferred.flush()
    history.set_model(model)
    return history


def _plain_arrays(x, y, fit_kwargs) -> bool:
    """Whether `fit(x, y, **fit_kwargs)` can take a dataset of `(x, y)`
    batches instead (no per-example weights, no split to take)."""
    arrays = isinstance(x, np.ndarray) and isinstance(y, np.ndarray)
    return arrays and not {"sample_weight", "validation_split"} & set(
        fit_kwargs
    )


def _array_pair(validation) -> bool:
    """Whether `validation` is `(features, labels)` arrays (a triple with
    sample weights goes to `fit` as it is)."""
    return (
        isinstance(validation, tuple)
        and len(validation) == 2
        and _plain_arrays(*validation, {})
    )


def _among(callback, callbacks) -> bool:
    return any(callback is c for c in callbacks)


class _SaveAtEnd:
    """The full model as callbacks see it, with `save_weights` deferred:
    each request snapshots the head's and the optimizer's values (small);
    `flush` writes the latest request once, with those values, as a head
    checkpoint. Everything else goes to the model."""

    def __init__(self, model):
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_pending", None)

    def save_weights(self, filepath, overwrite=True):
        snapshot = head_state(self._model)
        object.__setattr__(self, "_pending", (str(filepath), snapshot))

    def flush(self):
        if self._pending is None:
            return
        filepath, (head, optimizer) = self._pending
        object.__setattr__(self, "_pending", None)
        save_head_checkpoint(
            self._model, filepath, head_values=head, optimizer_values=optimizer
        )

    def __getattr__(self, name):
        return getattr(self._model, name)

    def __setattr__(self, name, value):
        setattr(self._model, name, value)


class _OnFullModel(keras.callbacks.Callback):
    """Runs a callback against the full model while the head model trains
    (the head's weights are the full model's, so what the callback saves or
    restores is right), and passes on its requests to stop."""

    def __init__(self, callback, model):
        super().__init__()
        self.callback = callback
        self.full_model = model

    def set_model(self, model):
        self.head_model = model
        self.callback.set_model(self.full_model)

    def set_params(self, params):
        self.callback.set_params(params)

    def on_epoch_end(self, epoch, logs=None):
        self.callback.on_epoch_end(epoch, logs)
        if getattr(self.full_model, "stop_training", False):
            self.head_model.stop_training = True


def _forward(name):
    def method(self, *args, **kwargs):
        return getattr(self.callback, name)(*args, **kwargs)

    method.__name__ = name
    return method


for _name in (
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_begin",
    "on_test_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_begin",
    "on_predict_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
):
    setattr(_OnFullModel, _name, _forward(_name))
