"""`summary`: a table of layer groups and what trains."""

from typing import Callable
from typing import Optional

import keras

from tlkeras._utils import keras_internals
from tlkeras._utils.sizes import num_elements
from tlkeras.freezing import has_lora
from tlkeras.freezing import layer_groups
from tlkeras.freezing import lora_variables


def summary(
    model: keras.Model, print_fn: Optional[Callable[[str], None]] = None
) -> str:
    """Print and return a table of the model's layer groups.

    One row per group, input side first: its layers, trainable and frozen
    parameter counts, the parameters of its LoRA adapters (a `lora` column,
    when the model has any; they count as trainable too), and the mode of
    its BatchNormalization layers (`inference`: statistics fixed;
    `training`: they update).

    Args:
        model: a `tlkeras.TransferModel` or another `keras.Model`.
        print_fn: callable taking a string, used instead of `print`.

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "resnet50", num_classes=2, input_shape=(32, 32, 3), weights=None)
    >>> table = tlk.summary(model, print_fn=lambda s: None)
    >>> table.splitlines()[0].split()
    ['group', 'layers', 'trainable', 'frozen', 'batchnorm']
    """
    adapters = has_lora(model)
    header = ("group", "layers", "trainable", "frozen")
    header += ("lora",) if adapters else ()
    header += ("batchnorm",)
    rows = []
    totals = [0] * (len(header) - 3)
    for group in layer_groups(model):
        counts = [
            sum(num_elements(v) for v in group.trainable_variables),
            sum(num_elements(v) for v in group.non_trainable_variables),
        ]
        if adapters:
            counts.append(
                sum(
                    num_elements(v)
                    for layer in group.layers
                    for v in lora_variables(layer)
                )
            )
        totals = [t + c for t, c in zip(totals, counts)]
        rows.append(
            (group.name, str(len(group.layers)))
            + tuple(f"{c:,}" for c in counts)
            + (_bn_mode(group),)
        )
    rows.append(("total", "") + tuple(f"{t:,}" for t in totals) + ("",))
    n = len(header)
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(n)]

    def line(row):
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(row[1:-1], widths[1:-1])]
        cells.append(row[-1].ljust(widths[-1]))
        return "  ".join(cells).rstrip()

    rule = "-" * len(line(header))
    text = "\n".join(
        [line(header), rule]
        + [line(r) for r in rows[:-1]]
        + [rule, line(rows[-1])]
    )
    (print_fn or print)(text)
    return text


def _bn_mode(group) -> str:
    modes = {
        sub.trainable
        for layer in group.layers
        for sub in keras_internals.flatten_layers(layer)
        if isinstance(sub, keras.layers.BatchNormalization)
    }
    if not modes:
        return ""
    if len(modes) == 2:
        return "mixed"
    return "training" if modes.pop() else "inference"
