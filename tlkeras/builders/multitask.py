"""`build_multitask`: one pretrained base, several named heads."""

from typing import Dict
from typing import Optional
from typing import Union

from tlkeras.builders.build import _build
from tlkeras.builders.multi_task_model import MultiTaskModel
from tlkeras.heads import Head
from tlkeras.heads import MultiHead
from tlkeras.heads import resolve_head
from tlkeras.tasks import get_task

HeadSpec = Union[int, str, Head]
_KINDS = ("multiclass", "binary", "multilabel", "regression")


def build_multitask(
    base,
    heads: Dict[str, HeadSpec],
    *,
    loss_weights: Optional[Dict[str, float]] = None,
    input_shape=None,
    weights: Optional[str] = "imagenet",
    base_kwargs: Optional[dict] = None,
    head="linear",
    logits: bool = False,
    freeze="base",
    bn: Optional[str] = None,
    class_names: Optional[Dict[str, list]] = None,
    name: Optional[str] = None,
    regularization=None,
) -> MultiTaskModel:
    """One pretrained base with several named heads, one output each.

    Args:
        base: as `build_classifier`: a `keras.applications` name or any
            `keras.Model`.
        heads: dict of head name to what it predicts:
            - an int `n`: `n` classes (`1`: one sigmoid output, binary);
            - `"binary"`; `"multilabel:N"` (`N` independent labels);
            - `"regression"` or `"regression:N"` (`N` targets);
            - `"multiclass:N"`, the same as `n`;
            - a `tlkeras.heads.Head` with `num_outputs` set; its task
              follows its output activation (`"softmax"` multiclass,
              `"sigmoid"` binary or multilabel, none regression).
        loss_weights: dict of head name to the weight of its loss, or
            `None` (all 1). Defaults to `None`.
        input_shape, weights, base_kwargs, freeze, bn, name,
            regularization: as `build_classifier`.
        head: `"linear"`, `"mlp"` or a `Head` template (without
            `num_outputs`) for the heads given by a task. Defaults to
            `"linear"`.
        logits: bool, classification heads output logits. Defaults to
            `False`.
        class_names: dict of head name to its class names. Defaults to
            `None`.

    Returns:
        A `tlkeras.MultiTaskModel`: `compile()` picks a loss and metrics
        per head; `fit(x, {head: labels})` masks missing labels (`-1` or
        NaN); `predict` returns a dict.

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_multitask(
    ...     "mobilenet_v2",
    ...     heads={"species": 37, "pet": "binary", "age": "regression"},
    ...     input_shape=(32, 32, 3), weights=None,
    ...     base_kwargs={"alpha": 0.35}, loss_weights={"age": 0.1})
    >>> model.tasks
    {'species': 'multiclass', 'pet': 'binary', 'age': 'regression'}
    >>> [g.name for g in tlk.layer_groups(model)][-3:]
    ['species', 'pet', 'age']
    """
    if not isinstance(heads, dict) or not heads:
        raise ValueError(
            "`heads` must be a non-empty dict of head name to what it "
            "predicts, e.g. {'species': 37, 'pet': 'binary', 'age': "
            f"'regression'}}. Received: heads={heads!r}"
        )
    template = resolve_head(head)
    built, tasks = {}, {}
    for head_name, spec in heads.items():
        if not isinstance(head_name, str) or not head_name.isidentifier():
            raise ValueError(
                "Head names must be identifiers (they name outputs, groups "
                f"and metrics). Received: {head_name!r}"
            )
        built[head_name], tasks[head_name] = _head(
            head_name, spec, template, logits
        )
    return _build(
        base,
        MultiHead(built, name="heads"),
        task=None,
        logits=logits,
        input_shape=input_shape,
        weights=weights,
        base_kwargs=base_kwargs,
        freeze=freeze,
        bn=bn,
        name=name,
        class_names=class_names,
        regularization=regularization,
        model_class=MultiTaskModel,
        tasks=tasks,
        loss_weights=loss_weights,
    )


def _head(name, spec, template, logits):
    if isinstance(spec, Head):
        return _given_head(name, spec, logits)
    kind, count = _parse(name, spec)
    task = get_task(kind)
    head = template.with_outputs(
        count, task.output_activation(logits), name=name
    )
    return head, kind


def _parse(name, spec):
    accepted = (
        "an int (classes), 'binary', 'multilabel:N', 'regression', "
        "'regression:N', 'multiclass:N' or a tlkeras.heads.Head"
    )
    if isinstance(spec, bool) or not isinstance(spec, (int, str)):
        raise TypeError(f"Head {name!r} must be {accepted}. Received: {spec!r}")
    if isinstance(spec, int):
        kind, count = ("binary", 1) if spec == 1 else ("multiclass", spec)
    else:
        kind, _, number = spec.partition(":")
        if kind not in _KINDS:
            raise ValueError(
                f"Head {name!r} must be {accepted}. Received: {spec!r}"
            )
        defaults = {"binary": 1, "regression": 1}
        if not number:
            if kind not in defaults:
                raise ValueError(
                    f"Head {name!r}: {kind!r} needs a size, e.g. "
                    f"'{kind}:5'. Received: {spec!r}"
                )
            count = defaults[kind]
        elif kind == "binary" or not number.isdigit():
            raise ValueError(
                f"Head {name!r} must be {accepted}. Received: {spec!r}"
            )
        else:
            count = int(number)
    if count < 1 or (kind == "multiclass" and count < 2):
        raise ValueError(
            f"Head {name!r} needs at least {2 if kind == 'multiclass' else 1}"
            f" outputs. Received: {spec!r}"
        )
    return kind, count


def _given_head(name, head, logits):
    if head.num_outputs is None:
        raise ValueError(
            f"Head {name!r} is a template without `num_outputs`; give the "
            "task instead (e.g. 5 or 'regression') and the template as "
            "`head=`, or set num_outputs and output_activation."
        )
    activation = head.output_activation
    if activation == "softmax":
        kind = "multiclass"
    elif activation == "sigmoid":
        kind = "binary" if head.num_outputs == 1 else "multilabel"
    elif activation is None and not logits:
        kind = "regression"
    else:
        raise ValueError(
            f"Cannot tell head {name!r}'s task from its output activation "
            f"{activation!r} (with logits={logits}): use 'softmax', "
            "'sigmoid' or None (regression), or give the task instead."
        )
    config = {**head.get_config(), "name": name}
    return head.__class__.from_config(config), kind
