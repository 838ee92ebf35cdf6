"""Head-only checkpoints: a frozen-base model's head and optimizer state,
restorable into the full model when its base is the one they trained on.

A frozen base never changes, so a checkpoint of a frozen-base run needs only
what trained. Writing the full model's weights walks every base layer (half
a second for a MobileNetV2, per trial of a tuning search); this writes a
few arrays. The file records a fingerprint of the base's weights, and
`TransferModel.load_weights` restores it only into a model whose base has
exactly those weights, so a checkpoint can never be paired with the wrong
base.
"""

import hashlib
import os
from typing import Optional
from typing import Sequence

import h5py
import keras
import numpy as np

from tlkeras._utils.atomic import atomic_path

FORMAT = "tlkeras-head-checkpoint"
VERSION = 1


def base_fingerprint(model: keras.Model) -> str:
    """SHA-256 over the base's weights (names, shapes, dtypes and values).

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)]), 2)
    >>> len(base_fingerprint(model))
    64
    """
    digest = hashlib.sha256()
    for variable in model.base.weights:
        value = np.ascontiguousarray(keras.ops.convert_to_numpy(variable))
        digest.update(f"{variable.path}{value.shape}{value.dtype}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def _optimizer_variables(model):
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not optimizer.built:
        return []
    return list(optimizer.variables)


def head_state(model: keras.Model):
    """The current values a head checkpoint of `model` holds: its head's
    weights and its (built) optimizer's variables, as NumPy arrays.

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)]), 2)
    >>> head, optimizer = head_state(model)
    >>> [v.shape for v in head], optimizer
    ([(8, 2), (2,)], [])
    """
    return (
        [keras.ops.convert_to_numpy(v) for v in model.head.weights],
        [keras.ops.convert_to_numpy(v) for v in _optimizer_variables(model)],
    )


def save_head_checkpoint(
    model: keras.Model,
    filepath,
    *,
    head_values: Optional[Sequence[np.ndarray]] = None,
    optimizer_values: Optional[Sequence[np.ndarray]] = None,
) -> None:
    """Write `model`'s head weights and optimizer state to `filepath` (an
    `.h5` file, atomically), with its base's fingerprint.

    Args:
        model: a `tlkeras.TransferModel`.
        filepath: str or path, ending in `.h5`.
        head_values, optimizer_values: values to write instead of the
            current ones (a snapshot `head_state` took earlier). Defaults
            to `None`.

    Example:

    >>> import os, tempfile, tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)]), 2,
    ...     freeze="base")
    >>> path = os.path.join(tempfile.mkdtemp(), "head.weights.h5")
    >>> save_head_checkpoint(model, path)
    >>> model.load_weights(path)  # restores the head, checks the base
    """
    if not str(filepath).endswith(".h5"):
        raise ValueError(
            "A head checkpoint is an HDF5 file: its name must end in `.h5` "
            f"(`.weights.h5` as Keras names weights). Received: {filepath!r}"
        )
    head = list(model.head.weights)
    optimizer = _optimizer_variables(model)
    if head_values is None or optimizer_values is None:
        current = head_state(model)
        head_values = current[0] if head_values is None else head_values
        if optimizer_values is None:
            optimizer_values = current[1]
    with atomic_path(filepath) as tmp:
        with h5py.File(tmp, "w") as file:
            file.attrs["format"] = FORMAT
            file.attrs["version"] = VERSION
            file.attrs["base_fingerprint"] = base_fingerprint(model)
            for group, variables, values in (
                ("head", head, head_values),
                ("optimizer", optimizer, optimizer_values),
            ):
                store = file.create_group(group)
                for index, (variable, value) in enumerate(
                    zip(variables, values)
                ):
                    data = store.create_dataset(f"{index:05d}", data=value)
                    data.attrs["path"] = variable.path


def is_head_checkpoint(filepath) -> bool:
    """Whether `filepath` is a file `save_head_checkpoint` wrote.

    Example:

    >>> is_head_checkpoint("no/such/file.weights.h5")
    False
    """
    if not isinstance(filepath, (str, os.PathLike)):
        return False
    path = os.fspath(filepath)
    if not path.endswith(".h5") or not os.path.isfile(path):
        return False
    try:
        with h5py.File(path, "r") as file:
            return file.attrs.get("format") == FORMAT
    except OSError:  # not HDF5: let Keras say what it is
        return False


def load_head_checkpoint(model: keras.Model, filepath) -> None:
    """Restore a head checkpoint into `model` (see `save_head_checkpoint`).

    Raises:
        ValueError: `model`'s base weights are not those the checkpoint's
            head trained on, or its head or optimizer variables differ in
            number or shape.
    """
    with h5py.File(filepath, "r") as file:
        version = int(file.attrs.get("version", 0))
        if version != VERSION:
            raise ValueError(
                f"{filepath} is a head checkpoint of version {version}; this "
                f"tlkeras reads version {VERSION}."
            )
        if file.attrs["base_fingerprint"] != base_fingerprint(model):
            raise ValueError(
                f"{filepath} holds only a head and its optimizer state, "
                "trained on a frozen base whose weights differ from this "
                f"model's base ({model.base.name!r}): restore it into a model "
                "built with the same base and weights (as the tuner's "
                "`build` makes them)."
            )
        head, optimizer = (
            [file[group][key][()] for key in sorted(file[group])]
            for group in ("head", "optimizer")
        )
    _assign(model.head.weights, head, "head", filepath)
    if optimizer:
        if model.optimizer is None:
            return  # nothing to restore into, as Keras's load_weights
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        _assign(model.optimizer.variables, optimizer, "optimizer", filepath)


def _assign(variables, values, what, filepath):
    shapes = [tuple(v.shape) for v in variables]
    stored = [tuple(np.shape(v)) for v in values]
    if shapes != stored:
        raise ValueError(
            f"The {what} in {filepath} has variables of shapes {stored}, "
            f"this model's {what} {shapes}: it was saved from a different "
            f"{what}."
        )
    for variable, value in zip(variables, values):
        variable.assign(value)
