"""`transfer_weights`: copy what matches from one model into another, and
say what was not copied and why."""

import dataclasses
import json
from typing import List
from typing import Tuple

import keras
import numpy as np

from tlkeras._utils import keras_internals

MATCHES = ("name", "shape", "order")


@dataclasses.dataclass
class TransferReport:
    """What `transfer_weights` copied and what it did not.

    Attributes:
        copied: `(source path, destination path)` of each variable copied.
        skipped: `(destination path, reason)` of each destination variable
            left as it was.
        unused: paths of the source variables that nothing took.
    """

    copied: List[Tuple[str, str]]
    skipped: List[Tuple[str, str]]
    unused: List[str]

    def to_dict(self) -> dict:
        """The report as plain data (for JSON)."""
        return {
            "copied": [list(pair) for pair in self.copied],
            "skipped": [list(pair) for pair in self.skipped],
            "unused": list(self.unused),
        }

    def to_json(self) -> str:
        """The report as a JSON string."""
        return json.dumps(self.to_dict(), indent=2)

    def __str__(self) -> str:
        lines = [
            f"copied {len(self.copied)} variable(s), skipped "
            f"{len(self.skipped)}, {len(self.unused)} source variable(s) "
            "unused"
        ]
        if self.skipped:
            width = max(len(path) for path, _ in self.skipped)
            lines.append(f"{'skipped':{width}}  reason")
            lines += [
                f"{path:{width}}  {reason}" for path, reason in self.skipped
            ]
        if self.unused:
            lines.append("unused in the source: " + ", ".join(self.unused))
        return "\n".join(lines)


def transfer_weights(
    source: keras.Model,
    destination: keras.Model,
    *,
    match: str = "name",
    strict: bool = False,
) -> TransferReport:
    """Copy the variables of `source` into `destination` where they match.

    - `match="name"`: variables with the same path in their model
      (`layer/variable`: `variable.path` without the names of the models
      it sits in; a `keras.applications` model and the base of a
      `tlkeras.TransferModel` built from it share their paths);
    - `match="shape"`: in order, each destination variable takes the next
      unused source variable of its shape (layers renamed, same order);
    - `match="order"`: the i-th variable of each, when shapes agree.

    A variable is copied only when shape and dtype agree; every other
    destination variable is reported with the reason. Nothing is cast or
    reshaped.

    Args:
        source: the model to copy from.
        destination: the model to copy into (built).
        match: `"name"`, `"shape"` or `"order"`. Defaults to `"name"`.
        strict: bool, raise a `ValueError` naming what would be skipped,
            before copying anything. Defaults to `False`.

    Returns:
        A `TransferReport` (`print(report)` shows a table).

    Example:

    >>> import tlkeras as tlk
    >>> base = keras.applications.MobileNetV2(
    ...     input_shape=(32, 32, 3), alpha=0.35, include_top=False,
    ...     weights=None)
    >>> model = tlk.build_classifier(
    ...     "mobilenet_v2", 3, input_shape=(32, 32, 3), weights=None,
    ...     base_kwargs={"alpha": 0.35})
    >>> report = tlk.transfer_weights(base, model)
    >>> len(report.copied) == len(base.weights), len(report.skipped)
    (True, 2)
    """
    if match not in MATCHES:
        raise ValueError(
            f"`match` must be one of {MATCHES}. Received: match={match!r}"
        )
    for name, model in (("source", source), ("destination", destination)):
        if not getattr(model, "built", False) or not model.weights:
            raise ValueError(
                f"The {name} model {getattr(model, 'name', model)!r} has no "
                "weights yet: build it (call it on a batch, or give its "
                "Input a shape) before transferring."
            )
    sources, destinations = _keyed(source), _keyed(destination)
    pairs, skipped = _pairs(sources, destinations, match)
    pairs, mismatched = _compatible(pairs)
    order = {v.key: i for i, v in enumerate(destinations)}
    skipped = sorted(skipped + mismatched, key=lambda item: order[item[0]])
    if strict and skipped:
        raise ValueError(
            f"transfer_weights(strict=True): {len(skipped)} variable(s) of "
            f"{destination.name!r} would not be copied: "
            + "; ".join(f"{path} ({reason})" for path, reason in skipped)
        )
    for src, dst in pairs:
        dst.variable.assign(src.variable)
    taken = {id(src.variable) for src, _ in pairs}
    return TransferReport(
        copied=[(src.key, dst.key) for src, dst in pairs],
        skipped=skipped,
        unused=[v.key for v in sources if id(v.variable) not in taken],
    )


@dataclasses.dataclass
class _Keyed:
    """A variable and its path inside its model: `variable.path` without
    the names of the models it sits in (a Sequential's variables carry its
    name, `sequential_2/dense/kernel`; a functional model's do not)."""

    key: str
    variable: object

    @property
    def shape(self):
        return self.variable.shape

    @property
    def dtype(self):
        return self.variable.dtype


def _keyed(model) -> List[_Keyed]:
    models = {
        layer.name
        for layer in keras_internals.flatten_layers(model)
        if isinstance(layer, keras.Model)
    }
    keyed = []
    for variable in model.weights:
        parts = variable.path.split("/")
        while len(parts) > 2 and parts[0] in models:
            parts = parts[1:]
        keyed.append(_Keyed("/".join(parts), variable))
    return keyed


def _pairs(source, destination, match):
    """(source variable, destination variable) candidates, and
    `(destination path, reason)` for those nothing in the source answers."""
    pairs, skipped = [], []
    if match == "name":
        by_path = {}
        for variable in source:
            by_path.setdefault(variable.key, variable)
        for variable in destination:
            found = by_path.get(variable.key)
            if found is None:
                skipped.append((variable.key, "no variable of that path"))
            else:
                pairs.append((found, variable))
    elif match == "shape":
        start = 0
        for variable in destination:
            shape = tuple(variable.shape)
            index = next(
                (
                    i
                    for i in range(start, len(source))
                    if tuple(source[i].shape) == shape
                ),
                None,
            )
            if index is None:
                skipped.append(
                    (variable.key, f"no unused variable of shape {shape}")
                )
            else:
                pairs.append((source[index], variable))
                start = index + 1
    else:
        pairs = list(zip(source, destination))
        skipped = [
            (variable.key, f"the source has only {len(source)} variables")
            for variable in destination[len(source) :]
        ]
    return pairs, skipped


def _compatible(pairs):
    kept, mismatched = [], []
    for src, dst in pairs:
        if tuple(src.shape) != tuple(dst.shape):
            mismatched.append(
                (
                    dst.key,
                    f"shape {tuple(src.shape)} in the source "
                    f"({src.key}), {tuple(dst.shape)} here",
                )
            )
        elif np.dtype(src.dtype) != np.dtype(dst.dtype):
            mismatched.append(
                (
                    dst.key,
                    f"dtype {src.dtype} in the source ({src.key}), "
                    f"{dst.dtype} here",
                )
            )
        else:
            kept.append((src, dst))
    return kept, mismatched
