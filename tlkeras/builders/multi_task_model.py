"""`MultiTaskModel`: one base, several named heads, masked labels."""

from typing import Dict
from typing import Optional

import keras

from tlkeras.builders.transfer_model import TransferModel
from tlkeras.heads import MultiHead
from tlkeras.tasks import get_task


@keras.saving.register_keras_serializable(package="tlkeras")
class MultiTaskModel(TransferModel):
    """A `TransferModel` with several named heads: one output per head.

    `tlkeras.build_multitask` makes these. Train with
    `fit(x, {head: labels})`; a label that is missing for an example
    (`-1` or NaN, see `tlkeras.tasks.Task.missing_labels`), or a head left
    out of the dict, contributes nothing to that head's loss or metrics,
    and each head's loss is the mean over the examples that have its label
    (as PyTorch's `ignore_index`). Each head is its own layer group, named
    after it, so freeze policies, discriminative rates and unfreezing work
    per head.

    Args:
        base: `keras.Model`, the pretrained base.
        head: `tlkeras.heads.MultiHead`, the named heads.
        tasks: dict of head name to its task (`"multiclass"`, `"binary"`,
            `"multilabel"` or `"regression"`); it picks each head's default
            loss and metrics and its serving outputs.
        loss_weights: dict of head name to the weight of its loss in the
            total, or `None` (every head 1). Defaults to `None`.
        class_names: dict of head name to its class names, or `None`.
            Defaults to `None`.
        **kwargs: the other arguments of `tlkeras.TransferModel`
            (`preprocessing`, `input_shape`, `logits`, `bn`, ...).

    Example:

    >>> import numpy as np, tlkeras as tlk
    >>> model = tlk.build_multitask(
    ...     "mobilenet_v2", heads={"kind": 3, "size": "regression"},
    ...     input_shape=(32, 32, 3), weights=None,
    ...     base_kwargs={"alpha": 0.35})
    >>> model.compile()              # a loss and metrics per head
    >>> x = np.zeros((4, 32, 32, 3), "float32")
    >>> y = {"kind": np.array([0, 2, -1, 1]),          # -1: no label
    ...      "size": np.array([1.5, np.nan, 0.3, 2.0])}  # NaN: no label
    >>> history = model.fit(x, y, epochs=1, verbose=0)
    >>> sorted(model.predict(x, verbose=0))
    ['kind', 'size']
    """

    def __init__(
        self,
        base: keras.Model,
        head: MultiHead,
        *,
        tasks: Dict[str, str],
        loss_weights: Optional[Dict[str, float]] = None,
        class_names: Optional[Dict[str, list]] = None,
        task: None = None,
        **kwargs,
    ):
        if task is not None:
            raise ValueError(
                "A MultiTaskModel has a task per head (`tasks`), not one "
                f"`task`. Received: task={task!r}"
            )
        if not isinstance(head, MultiHead):
            raise TypeError(
                "MultiTaskModel takes a tlkeras.heads.MultiHead. Received: "
                f"head={head!r}"
            )
        names = list(head.heads)
        _check_keys("tasks", tasks, names, required=True)
        for name, kind in tasks.items():
            if get_task(kind).loss(False) is None:
                raise ValueError(
                    f"Head {name!r} has task {kind!r}, which trains nothing. "
                    "Heads take 'multiclass', 'binary', 'multilabel' or "
                    "'regression'."
                )
        _check_keys("loss_weights", loss_weights, names)
        _check_keys("class_names", class_names, names)
        super().__init__(base, head, task=None, **kwargs)

        # === Config ===
        self.tasks = dict(tasks)
        self.loss_weights = None if loss_weights is None else dict(loss_weights)
        self.class_names = (
            None
            if class_names is None
            else {k: [str(c) for c in v] for k, v in class_names.items()}
        )

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        metrics="auto",
        loss_weights="auto",
        **kwargs,
    ):
        """`keras.Model.compile` with a loss and metrics per head from its
        task (as `TransferModel.compile`), and the model's `loss_weights`.

        `metrics` are compiled as Keras's `weighted_metrics` (unless you
        pass those), so examples without a head's label do not count in
        that head's metrics.
        """
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(1e-3)
        tasks = {name: get_task(kind) for name, kind in self.tasks.items()}
        if loss == "auto":
            loss = {n: t.loss(self.logits) for n, t in tasks.items()}
        if metrics == "auto":
            metrics = {n: t.metrics(self.logits) for n, t in tasks.items()}
        if loss_weights == "auto":
            loss_weights = self.loss_weights
        if isinstance(loss_weights, dict):
            # Keras wants a weight for every output: the others weigh 1.
            loss_weights = {n: loss_weights.get(n, 1.0) for n in tasks}
        if "weighted_metrics" not in kwargs:
            # Keras passes sample weights, the label masks, to weighted
            # metrics only: there, missing labels do not count.
            metrics, kwargs["weighted_metrics"] = None, metrics
        keras.Model.compile(
            self,
            optimizer=optimizer,
            loss=loss,
            metrics=metrics,
            loss_weights=loss_weights,
            **kwargs,
        )

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        y, weights = self._masked(y, y_pred, sample_weight, per_label=True)
        return super().compute_loss(
            x, y, y_pred, sample_weight=weights, training=training
        )

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        y, weights = self._masked(y, y_pred, sample_weight, per_label=False)
        return super().compute_metrics(x, y, y_pred, sample_weight=weights)

    def _masked(self, y, y_pred, sample_weight, per_label):
        """Labels with the missing ones zeroed, and sample weights that
        are 0 for them. With `per_label`, the weights also turn Keras's
        mean over the batch into a mean over the labelled examples."""
        if not isinstance(y, dict):
            raise ValueError(
                "A multi-task model trains on a dict of labels keyed by "
                f"head: {list(self.tasks)}. Received labels of type "
                f"{type(y).__name__}."
            )
        _check_keys("labels", y, list(self.tasks))
        ops = keras.ops
        labels, weights = {}, {}
        for name, kind in self.tasks.items():
            pred = y_pred[name]
            batch = ops.shape(pred)[0]
            given = y.get(name)
            if given is None:
                present = ops.zeros((batch,), "float32")
                given = (
                    ops.zeros((batch,), "int32")
                    if kind == "multiclass"
                    else ops.zeros_like(pred)
                )
            else:
                given = ops.convert_to_tensor(given)
                missing = get_task(kind).missing_labels(given)
                present = ops.cast(ops.logical_not(missing), "float32")
                shape = (-1,) + (1,) * (len(given.shape) - 1)
                given = ops.where(
                    ops.reshape(missing, shape), ops.zeros_like(given), given
                )
            weight = present
            user = (
                sample_weight.get(name)
                if isinstance(sample_weight, dict)
                else sample_weight
            )
            if user is not None:
                weight = weight * ops.reshape(ops.cast(user, "float32"), (-1,))
            if per_label:
                weight = weight * (
                    ops.cast(batch, "float32")
                    / ops.maximum(ops.sum(present), 1.0)
                )
            labels[name], weights[name] = given, weight
        return labels, weights

    def get_config(self):
        config = super().get_config()
        config.update(
            tasks=self.tasks,
            loss_weights=self.loss_weights,
            class_names=self.class_names,
        )
        return config


def _check_keys(argument, value, names, required=False):
    if value is None and not required:
        return
    if not isinstance(value, dict):
        raise TypeError(
            f"`{argument}` must be a dict keyed by head name ({names}). "
            f"Received: {argument}={value!r}"
        )
    unknown = [key for key in value if key not in names]
    missing = [name for name in names if name not in value]
    if unknown or (required and missing):
        raise ValueError(
            f"`{argument}` must be keyed by the heads {names}. Unknown: "
            f"{unknown}; missing: {missing if required else []}."
        )
