"""`TransferModel`: a base, a head and the preprocessing, as one model."""

import copy
import inspect
import warnings
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from tlkeras import freezing
from tlkeras._utils import keras_internals
from tlkeras.builders import head_checkpoint
from tlkeras.callbacks import BackupAndRestore as GroupSafeBackup
from tlkeras.callbacks import GroupLearningRates
from tlkeras.heads import MultiHead
from tlkeras.tasks import get_task
from tlkeras.training import GroupOptimizer
from tlkeras.training import inner_optimizer
from tlkeras.training import sync_trainable

_TRAINABLE_KEY = "tlkeras_trainable_flags"
_FIT_SIGNATURE = inspect.signature(keras.Model.fit)
_EVALUATE_SIGNATURE = inspect.signature(keras.Model.evaluate)
_PREDICT_SIGNATURE = inspect.signature(keras.Model.predict)


@keras.saving.register_keras_serializable(package="tlkeras")
class TransferModel(keras.Model):
    """A functional model made of a pretrained base and a new head.

    The builders (`tlkeras.build_classifier` & co.) make these; you rarely
    call the constructor yourself. The model takes raw inputs (pixels in
    [0, 255] for `keras.applications` bases: their preprocessing is inside),
    trains with plain `fit`, and saves and loads as a `.keras` file with its
    layer groups and frozen layers intact.

    Changing `trainable` flags between two `fit` calls simply works: the
    model rebuilds its optimizer state and train function when the flags
    changed (plain Keras silently ignores such changes until you compile
    again).

    Args:
        base: `keras.Model`, the pretrained base.
        head: `tlkeras.heads.Head`, the new head.
        preprocessing: `keras.layers.Layer` or `None`, applied to the inputs
            before the base. Defaults to `None`.
        input_shape: tuple, the input shape without the batch dimension.
            Defaults to the base's.
        input_dtype: string, the input dtype. Defaults to `"float32"`.
        base_name: string or `None`, the `keras.applications` name of the
            base; it picks the layer-group rules. Defaults to `None`.
        task: one of `tlkeras.tasks.TASKS` (`"multiclass"`, `"binary"`,
            `"multilabel"`, `"regression"`, `"features"`); it picks
            `compile`'s default loss and metrics and the serving outputs.
            Defaults to `"multiclass"`.
        logits: bool, whether the head outputs logits. Defaults to `False`.
        bn: `"frozen"` or `"train"`, the BatchNormalization policy the
            freezing functions apply when not told otherwise (a policy,
            not a state: the layers' flags say what trains). Defaults to
            `"frozen"`.
        class_names: list of strings or `None`, the names of the classes
            (exports and reports use them). Defaults to `None`.
        regularization: a penalty added to the training loss, such as
            `tlkeras.regularizers.L2SP()` or `BSS()`, a list of them, or
            `None`. Defaults to `None`.
        lora: the LoRA adapters `tlkeras.freezing.LoRA` added, as its
            config records them (`[layer index, alpha, train_bias]` rows);
            leave it `None`, the freeze policy sets them up. Defaults to
            `None`.

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "mobilenet_v2", num_classes=3, input_shape=(32, 32, 3),
    ...     weights=None, base_kwargs={"alpha": 0.35})
    >>> model.compile()                # loss and metrics follow the task
    >>> model.predict(keras.ops.zeros((1, 32, 32, 3)), verbose=0).shape
    (1, 3)
    """

    def __init__(
        self,
        base: keras.Model,
        head: keras.layers.Layer,
        *,
        preprocessing: Optional[keras.layers.Layer] = None,
        input_shape=None,
        input_dtype: str = "float32",
        base_name: Optional[str] = None,
        task: str = "multiclass",
        logits: bool = False,
        bn: str = "frozen",
        class_names: Optional[list] = None,
        regularization: Optional[keras.layers.Layer] = None,
        lora: Optional[list] = None,
        **kwargs,
    ):
        if task is not None or not isinstance(head, MultiHead):
            get_task(task)  # checks the name
        if input_shape is None:
            input_shape = tuple(base.input_shape[1:])
        # === Layers ===
        self.base = base
        self.head = head
        self.preprocessing = preprocessing

        # === Functional Model ===
        inputs = keras.Input(
            shape=tuple(input_shape), dtype=input_dtype, name="inputs"
        )
        x = inputs if preprocessing is None else preprocessing(inputs)
        outputs = head(base(x))
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.input_shape_ = tuple(input_shape)
        self.inputs_dtype = input_dtype
        self.base_name = base_name
        self.task = task
        self.logits = logits
        self.bn = bn
        self.class_names = None if class_names is None else list(class_names)
        self.regularization = regularization
        for penalty in self._penalties():
            # The base's weights now are the pretrained ones (a loaded
            # model's saved anchors replace them when its variables load).
            penalty.attach(self)
        if lora:
            # A loaded model: Keras rebuilt the adapters (with the scale
            # `rank / rank` for Dense); make them ours again.
            freezing.lora.restore(self, lora)

    @property
    def lora(self) -> Optional[list]:
        """The LoRA adapters' settings (see `tlkeras.freezing.LoRA`), or
        `None`."""
        return freezing.lora.settings(self)

    def compile(self, optimizer="auto", loss="auto", metrics="auto", **kwargs):
        """`keras.Model.compile` with defaults that follow the task.

        `"auto"` gives Adam(1e-3); sparse categorical cross-entropy and
        accuracy for `multiclass`; binary cross-entropy and binary accuracy
        for `binary` and `multilabel`; mean squared error and mean absolute
        error for `regression` (`from_logits` follows the model).
        """
        task = get_task(self.task)
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(1e-3)
        if loss == "auto":
            loss = task.loss(self.logits)
        if metrics == "auto":
            metrics = task.metrics(self.logits)
        super().compile(
            optimizer=optimizer, loss=loss, metrics=metrics, **kwargs
        )

    def compile_from_config(self, config):
        recompile(self, config)

    def fit(self, *args, **kwargs):
        """`keras.Model.fit`; with a per-group optimizer it also logs each
        group's learning rate as `lr/<group>`. A `tf.data.Dataset` is
        expected to shuffle itself (tlkeras's datasets do), so `shuffle`
        defaults to `False` for one instead of warning."""
        # Bound to Keras's own signature, so any mix of positional and
        # keyword arguments is read as Keras reads it.
        call = _FIT_SIGNATURE.bind(self, *args, **kwargs).arguments
        call.pop("self")
        if isinstance(call.get("x"), tf.data.Dataset):
            call.setdefault("shuffle", False)
        if keras_internals.is_multi_worker(self.distribute_strategy):
            for callback in call.get("callbacks") or []:
                if isinstance(
                    callback, keras.callbacks.BackupAndRestore
                ) and not isinstance(callback, GroupSafeBackup):
                    raise ValueError(
                        "keras.callbacks.BackupAndRestore has every worker "
                        "write the same files; under MultiWorkerMirrored"
                        "Strategy use tlkeras.callbacks.BackupAndRestore "
                        "(the chief writes, the others use temporary "
                        "folders)."
                    )
        if isinstance(inner_optimizer(self.optimizer), GroupOptimizer):
            callbacks = list(call.get("callbacks") or [])
            if not any(isinstance(c, GroupLearningRates) for c in callbacks):
                call["callbacks"] = callbacks + [GroupLearningRates()]
        with (
            keras_internals.quiet_end_of_data(
                call.get("x"), call.get("steps_per_epoch")
            ),
            keras_internals.multi_worker_reductions(self.distribute_strategy),
        ):
            return super().fit(**call)

    def evaluate(self, *args, **kwargs):
        """`keras.Model.evaluate`, without Keras's spurious "ran out of
        data" warning for datasets of unknown length."""
        call = _EVALUATE_SIGNATURE.bind(self, *args, **kwargs).arguments
        with (
            keras_internals.quiet_end_of_data(call.get("x"), call.get("steps")),
            keras_internals.multi_worker_reductions(self.distribute_strategy),
        ):
            return super().evaluate(*args, **kwargs)

    def predict(self, *args, **kwargs):
        """`keras.Model.predict`, without Keras's spurious "ran out of
        data" warning for datasets of unknown length."""
        call = _PREDICT_SIGNATURE.bind(self, *args, **kwargs).arguments
        with keras_internals.quiet_end_of_data(
            call.get("x"), call.get("steps")
        ):
            return super().predict(*args, **kwargs)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras 3.15 averages the first batch across workers to learn its
        # shapes, which MultiWorkerMirroredStrategy refuses: give it this
        # worker's batch (see keras_internals.local_batch).
        strategy = self.distribute_strategy
        if iterator is not None and keras_internals.is_multi_worker(strategy):
            for _, _, batches in iterator:
                data_batch = keras_internals.local_batch(
                    strategy, next(batches)
                )
                break
            iterator = None
        return super()._maybe_symbolic_build(
            iterator=iterator, data_batch=data_batch
        )

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        loss = super().compute_loss(
            x, y, y_pred, sample_weight=sample_weight, training=training
        )
        if training:
            # Read when `fit` traces its step: what trains then.
            for penalty in self._penalties():
                loss = loss + keras.ops.cast(penalty.penalty(self), loss.dtype)
        return loss

    def _penalties(self) -> list:
        regularization = self.regularization
        if regularization is None:
            return []
        if isinstance(regularization, (list, tuple)):
            return list(regularization)
        return [regularization]

    def make_train_function(self, force=False):
        # Keras reads `trainable` only when it traces: this is where any
        # change made since (by the user, tlkeras.freezing or a callback)
        # takes effect, before `fit` trains.
        sync_trainable(self)
        return super().make_train_function(force=force)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        # A head-only checkpoint (a frozen-base run's: the tuner's trials)
        # restores the head and optimizer state after checking the base.
        if head_checkpoint.is_head_checkpoint(filepath):
            return head_checkpoint.load_head_checkpoint(self, filepath)
        return super().load_weights(
            filepath, skip_mismatch=skip_mismatch, **kwargs
        )

    def save_own_variables(self, store):
        # Trainability travels with the weights, so a checkpoint taken after
        # some groups were unfrozen (BackupAndRestore, load_weights) brings
        # back those groups and an optimizer the saved state fits.
        # The flags are the one record of trainability; this is a copy.
        super().save_own_variables(store)
        store[_TRAINABLE_KEY] = np.array(
            [layer.trainable for layer in keras_internals.flatten_layers(self)],
            "uint8",
        )

    def load_own_variables(self, store):
        own = keras_internals.own_variables(self)
        for i, variable in enumerate(own):
            variable.assign(store[str(i)])
        if _TRAINABLE_KEY not in store.keys():
            return
        flags = np.asarray(store[_TRAINABLE_KEY]).astype(bool)
        layers = keras_internals.flatten_layers(self)
        if len(flags) != len(layers):
            # Weights that fit but flags that do not (a file of another
            # tlkeras version, or of a model with other layers): say so.
            warnings.warn(
                f"The file's trainability flags are for {len(flags)} layers "
                f"but model {self.name!r} has {len(layers)}: its weights were "
                "loaded, its own flags kept, so it may not train the groups "
                "it trained when saved. Apply your freeze policy again "
                "(tlkeras.freezing.apply).",
                UserWarning,
                stacklevel=2,
            )
            return
        for layer, flag in zip(layers, flags):
            # The flag alone: the setter would cascade to sublayers.
            keras_internals.set_own_trainable(layer, flag)
        # Restored inside `fit` (BackupAndRestore) after the train function
        # was made: the flags must take effect now.
        sync_trainable(self)

    def get_config(self):
        # Like keras-hub's Task: the nested base and head are serialized
        # whole, and `from_config` rebuilds the functional graph from them,
        # so `super().get_config()` (a functional graph config) is skipped.
        return {
            "name": self.name,
            "trainable": self.trainable,
            "base": keras.layers.serialize(self.base),
            "head": keras.layers.serialize(self.head),
            "preprocessing": None
            if self.preprocessing is None
            else keras.layers.serialize(self.preprocessing),
            "input_shape": list(self.input_shape_),
            "input_dtype": self.inputs_dtype,
            "base_name": self.base_name,
            "task": self.task,
            "logits": self.logits,
            "bn": self.bn,
            "class_names": self.class_names,
            "regularization": None
            if self.regularization is None
            else (
                [keras.layers.serialize(r) for r in self._penalties()]
                if isinstance(self.regularization, (list, tuple))
                else keras.layers.serialize(self.regularization)
            ),
            "lora": self.lora,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        # Keras's deserialization pops keys from nested dicts: work on a copy.
        config = copy.deepcopy(config)
        for key in ("base", "head", "preprocessing", "regularization"):
            value = config.get(key)
            if isinstance(value, list):
                config[key] = [
                    keras.layers.deserialize(v, custom_objects=custom_objects)
                    for v in value
                ]
            elif value is not None:
                config[key] = keras.layers.deserialize(
                    value, custom_objects=custom_objects
                )
        trainable = config.pop("trainable", True)
        model = cls(**config)
        keras_internals.set_own_trainable(model, trainable)
        return model


def recompile(model: keras.Model, config: dict) -> None:
    """`compile_from_config` for a model whose `compile` only fills in
    defaults: the saved compile config (optimizer, loss, metrics) goes
    through it unchanged, and a built model's optimizer is built so the
    saved optimizer state loads into it.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> recompile(model, {"optimizer": "adam", "loss": "mse"})
    >>> model.optimizer.built
    True
    """
    config = keras.saving.deserialize_keras_object(config)
    model.compile(**config)
    if model.built:
        model.optimizer.build(model.trainable_variables)
