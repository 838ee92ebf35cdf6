"""What an exported model takes and returns: raw inputs with a stable
name, named outputs (probabilities, class ids and names)."""

from typing import Dict
from typing import Optional
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from tlkeras.tasks import get_task
from tlkeras.tasks import task_of

INPUT_DTYPES = ("uint8", "float32")


def input_spec(model: keras.Model, input_dtype: str) -> tf.TensorSpec:
    """The serving input: `images` (uint8 or float32 pixels of the model's
    input size) or, for a model taking strings, `text`."""
    if input_dtype not in INPUT_DTYPES:
        raise ValueError(
            f"`input_dtype` must be one of {INPUT_DTYPES}. Received: "
            f"input_dtype={input_dtype!r}"
        )
    shape = tuple(model.input_shape)
    if str(model.inputs[0].dtype) == "string":
        return tf.TensorSpec(shape, tf.string, name="text")
    name = "images" if len(shape) == 4 else "inputs"
    return tf.TensorSpec(shape, input_dtype, name=name)


def model_inputs(raw, spec: tf.TensorSpec):
    """Raw serving inputs as the Keras model takes them."""
    if spec.dtype == tf.string:
        return raw
    return tf.cast(raw, "float32")


def named_outputs(
    model: keras.Model, outputs, class_names: Optional[Sequence[str]]
) -> Dict[str, tf.Tensor]:
    """The model's outputs under stable names, by task: `probabilities`
    and `class_ids` (and `classes` when the names are known) for
    classifiers, `predictions` for regressors, `features` for feature
    extractors, `outputs` for other models; a multi-task model's heads'
    outputs each under `<head>_<name>` (`species_probabilities`,
    `age_predictions`...). Logits become probabilities."""
    tasks = getattr(model, "tasks", None)
    if isinstance(tasks, dict):
        # A multi-task model: each head's outputs, prefixed by its name.
        names = class_names if isinstance(class_names, dict) else {}
        logits = getattr(model, "logits", False)
        return {
            f"{head}_{key}": value
            for head, kind in tasks.items()
            for key, value in get_task(kind)
            .serving_outputs(outputs[head], logits, names.get(head))
            .items()
        }
    task = task_of(model)
    if task is None:
        return {"outputs": outputs}
    return task.serving_outputs(
        outputs, getattr(model, "logits", False), class_names
    )


def sample_inputs(spec: tf.TensorSpec, n: int = 4, seed: int = 0):
    """Deterministic sample inputs for parity checks."""
    rng = np.random.default_rng(seed)
    if spec.dtype == tf.string:
        words = ["the", "offer", "call", "now", "see", "you", "free", "ok"]
        return np.array(
            [" ".join(rng.choice(words, 5)) for _ in range(n)], object
        )
    shape = (n,) + tuple(spec.shape[1:])
    values = rng.integers(0, 256, shape)
    return values.astype(spec.dtype.as_numpy_dtype)


def check_parity(name: str, expected, actual, *, rtol=1e-5, atol=1e-5):
    """Raise `ExportMismatchError` when an export's output differs."""
    expected = np.asarray(expected)
    actual = np.asarray(actual)
    if expected.shape != actual.shape or not np.allclose(
        actual, expected, rtol=rtol, atol=atol
    ):
        difference = (
            np.max(np.abs(actual.astype("float64") - expected))
            if expected.shape == actual.shape
            else "shape " + str(actual.shape)
        )
        raise ExportMismatchError(
            f"The export's {name!r} differs from the Keras model's: max "
            f"difference {difference} (rtol={rtol}, atol={atol}, expected "
            f"shape {expected.shape}). Nothing was written."
        )


class ExportMismatchError(ValueError):
    """An export's outputs differ from the Keras model's."""
