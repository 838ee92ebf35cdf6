"""`Task`: what a model predicts, and everything that follows from it."""

from typing import Dict
from typing import Optional
from typing import Sequence

import keras
import tensorflow as tf

from tlkeras._utils.close_matches import did_you_mean


class Task:
    """One kind of prediction: it decides the head's output activation, the
    default loss and metrics, and the named outputs of a serving export.

    The builders, `TransferModel.compile`, the recipes, the tuner and the
    exports all ask the task instead of testing its name.

    Example:

    >>> task = get_task("multiclass")
    >>> task.output_activation(logits=False)
    'softmax'
    >>> type(task.loss(logits=True)).__name__
    'SparseCategoricalCrossentropy'
    """

    name = ""

    def output_activation(self, logits: bool) -> Optional[str]:
        """The head's output activation."""
        return None

    def loss(self, logits: bool) -> Optional[keras.losses.Loss]:
        """The default loss (`None`: the task trains no head)."""
        return None

    def metrics(self, logits: bool) -> Optional[list]:
        """The default metrics."""
        return None

    def serving_outputs(
        self, outputs, logits: bool, class_names: Optional[Sequence[str]]
    ) -> Dict[str, tf.Tensor]:
        """The model's outputs under stable names for a serving export."""
        return {"outputs": outputs}

    def missing_labels(self, labels):
        """A boolean per example: its label is missing (NaN anywhere in
        it, or, for class labels, a negative id or `-1` entry), so it
        should not count. Multi-task models mask these per head.

        Example:

        >>> get_task("multiclass").missing_labels(
        ...     keras.ops.convert_to_tensor([2, -1, 0])).numpy().tolist()
        [False, True, False]
        """
        labels = keras.ops.convert_to_tensor(labels)
        missing = self._missing(labels)
        if len(missing.shape) > 1:
            axes = tuple(range(1, len(missing.shape)))
            missing = keras.ops.any(missing, axis=axes)
        return missing

    def _missing(self, labels):
        if "float" in keras.backend.standardize_dtype(labels.dtype):
            return keras.ops.isnan(labels)
        return keras.ops.zeros_like(labels, dtype="bool")

    def __repr__(self):
        return f"Task({self.name!r})"


class _Classification(Task):
    def _missing(self, labels):
        return keras.ops.logical_or(
            super()._missing(labels), keras.ops.less(labels, 0)
        )

    def serving_outputs(self, outputs, logits, class_names):
        probabilities = self._probabilities(outputs, logits)
        ids = self._class_ids(probabilities)
        named = {"probabilities": probabilities, "class_ids": ids}
        if class_names and self.name != "multilabel":
            named["classes"] = tf.gather(tf.constant(list(class_names)), ids)
        return named


class _Multiclass(_Classification):
    name = "multiclass"

    def output_activation(self, logits):
        return None if logits else "softmax"

    def loss(self, logits):
        return keras.losses.SparseCategoricalCrossentropy(from_logits=logits)

    def metrics(self, logits):
        return ["accuracy"]

    def _probabilities(self, outputs, logits):
        return tf.nn.softmax(outputs) if logits else outputs

    def _class_ids(self, probabilities):
        return tf.argmax(probabilities, axis=-1, output_type=tf.int32)


class _Binary(_Classification):
    name = "binary"

    def output_activation(self, logits):
        return None if logits else "sigmoid"

    def loss(self, logits):
        return keras.losses.BinaryCrossentropy(from_logits=logits)

    def metrics(self, logits):
        return [keras.metrics.BinaryAccuracy(threshold=0.0 if logits else 0.5)]

    def _probabilities(self, outputs, logits):
        return tf.sigmoid(outputs) if logits else outputs

    def _class_ids(self, probabilities):
        return tf.squeeze(tf.cast(probabilities > 0.5, tf.int32), -1)


class _Multilabel(_Binary):
    name = "multilabel"

    def _class_ids(self, probabilities):
        return tf.cast(probabilities > 0.5, tf.int32)


class _Regression(Task):
    name = "regression"

    def loss(self, logits):
        return keras.losses.MeanSquaredError()

    def metrics(self, logits):
        return ["mae"]

    def serving_outputs(self, outputs, logits, class_names):
        return {"predictions": outputs}


class _Features(Task):
    name = "features"

    def serving_outputs(self, outputs, logits, class_names):
        return {"features": outputs}


_TASKS = {
    task.name: task
    for task in (
        _Multiclass(),
        _Binary(),
        _Multilabel(),
        _Regression(),
        _Features(),
    )
}
TASKS = tuple(_TASKS)


def get_task(task) -> Task:
    """The `Task` named `task` (or `task` itself).

    Example:

    >>> get_task("regression")
    Task('regression')
    """
    if isinstance(task, Task):
        return task
    if task not in _TASKS:
        hint = did_you_mean(task, TASKS) if isinstance(task, str) else ""
        raise ValueError(
            f"`task` must be one of {TASKS}. Received: task={task!r}{hint}"
        )
    return _TASKS[task]


def task_of(model: keras.Model) -> Optional[Task]:
    """The task of a tlkeras model, or `None` for other models.

    Example:

    >>> task_of(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
    """
    name = getattr(model, "task", None)
    return None if name is None else get_task(name)
