"""The builders: base + head + freeze policy in one call."""

from typing import Optional
from typing import Sequence

from tlkeras import freezing
from tlkeras.bases import resolve_base
from tlkeras.builders.transfer_model import TransferModel
from tlkeras.heads import Head
from tlkeras.heads import resolve_head
from tlkeras.tasks import get_task


def build_classifier(
    base,
    num_classes: int,
    *,
    input_shape=None,
    weights: Optional[str] = "imagenet",
    base_kwargs: Optional[dict] = None,
    head="linear",
    multi_label: bool = False,
    logits: bool = False,
    freeze="base",
    bn: Optional[str] = None,
    class_names: Optional[Sequence[str]] = None,
    name: Optional[str] = None,
    regularization=None,
) -> TransferModel:
    """A classifier made of a pretrained base and a new head.

    Args:
        base: a `keras.applications` name (`"MobileNetV2"`, `"resnet50"`,
            `"efficientnetv2b0"`...; see `tlkeras.bases.list_bases()`) or any
            `keras.Model` (e.g. a network you trained, image or not).
        num_classes: int, the number of classes. `1` gives a single sigmoid
            output (binary classification).
        input_shape: tuple, the shape of one input, e.g. `(224, 224, 3)`.
            Defaults to the base's own.
        weights: `"imagenet"`, `None` (random) or the path to a weights file
            for a named base. Defaults to `"imagenet"`.
        base_kwargs: dict of extra arguments for a named base's constructor,
            e.g. `{"alpha": 0.35}`. Defaults to `None`.
        head: `"linear"`, `"mlp"` or a `tlkeras.heads.Head` such as
            `tlkeras.heads.MLP(units=(128,), dropout=0.3)`. Defaults to
            `"linear"`.
        multi_label: bool, independent sigmoid outputs (several labels per
            example). Defaults to `False`.
        logits: bool, output logits instead of probabilities. Defaults to
            `False`.
        freeze: the freeze policy (see `tlkeras.freezing.parse_policy`):
            `"base"` (the base is frozen), `"none"` (everything trains),
            `tlkeras.freezing.TrainTop(k)`, `TrainGroups([...])`,
            `UpTo(layer_name)` or `FreezeIf(predicate)`. Defaults to
            `"base"`.
        bn: `"frozen"` (BN statistics of the base never change) or
            `"train"`. Defaults to `None`: `"frozen"` for pretrained
            weights, `"train"` for a named base built with `weights=None`
            (random weights have no statistics to protect: frozen at mean
            0 and variance 1, a random MobileNetV2's features are about
            1e-11 and not one of its weights would move).
        class_names: the class names, for exports and reports (e.g. a
            dataset's `.class_names`). Defaults to `None`.
        name: string, the model's name. Defaults to `None`.
        regularization: a penalty added to the training loss, such as
            `tlkeras.regularizers.L2SP(alpha=0.01, beta=0.01)` (pulls the
            base toward its pretrained weights) or `BSS()` (batch spectral
            shrinkage of the head's features), a list of them, or `None`.
            Defaults to `None`.

    Returns:
        A `tlkeras.TransferModel`; `model.compile()` picks the matching loss
        and metrics.

    Example:

    Linear probe on a small MobileNetV2:

    >>> import tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "mobilenet_v2", num_classes=5, input_shape=(32, 32, 3),
    ...     weights=None, base_kwargs={"alpha": 0.35},
    ...     head=tlk.heads.MLP(units=(16,), dropout=0.3))
    >>> [g.name for g in tlk.layer_groups(model)][-2:]
    ['top', 'head']
    """
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(
            "`num_classes` must be a positive int. Received: "
            f"num_classes={num_classes!r}"
        )
    if class_names is not None:
        class_names = [str(c) for c in class_names]
        expected = 2 if num_classes == 1 and not multi_label else num_classes
        if len(class_names) != expected:
            raise ValueError(
                f"`class_names` needs {expected} names for num_classes="
                f"{num_classes}. Received {len(class_names)}: {class_names}"
            )
    if multi_label:
        task = get_task("multilabel")
    else:
        task = get_task("binary" if num_classes == 1 else "multiclass")
    return _build(
        base,
        resolve_head(head).with_outputs(
            num_classes, task.output_activation(logits)
        ),
        task=task.name,
        logits=logits,
        input_shape=input_shape,
        weights=weights,
        base_kwargs=base_kwargs,
        freeze=freeze,
        bn=bn,
        name=name,
        class_names=class_names,
        regularization=regularization,
    )


def build_regressor(
    base,
    num_outputs: int = 1,
    *,
    input_shape=None,
    weights: Optional[str] = "imagenet",
    base_kwargs: Optional[dict] = None,
    head="linear",
    freeze="base",
    bn: Optional[str] = None,
    name: Optional[str] = None,
) -> TransferModel:
    """A regressor: a pretrained base and a head with linear outputs.

    Args: as `build_classifier`, with `num_outputs` (int, the number of
    targets, defaults to `1`) in place of `num_classes`.

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_regressor(
    ...     "mobilenet_v2", input_shape=(32, 32, 3), weights=None,
    ...     base_kwargs={"alpha": 0.35})
    >>> model.output_shape
    (None, 1)
    """
    if not isinstance(num_outputs, int) or num_outputs < 1:
        raise ValueError(
            "`num_outputs` must be a positive int. Received: "
            f"num_outputs={num_outputs!r}"
        )
    return _build(
        base,
        resolve_head(head).with_outputs(
            num_outputs, get_task("regression").output_activation(False)
        ),
        task="regression",
        logits=False,
        input_shape=input_shape,
        weights=weights,
        base_kwargs=base_kwargs,
        freeze=freeze,
        bn=bn,
        name=name,
    )


def build_feature_extractor(
    base,
    *,
    input_shape=None,
    weights: Optional[str] = "imagenet",
    base_kwargs: Optional[dict] = None,
    pooling: Optional[str] = "avg",
    name: Optional[str] = None,
) -> TransferModel:
    """A frozen base with pooling: raw inputs in, feature vectors out.

    Args: as `build_classifier`, plus `pooling` (`"avg"`, `"max"`,
    `"flatten"` or `None`; defaults to `"avg"`).

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_feature_extractor(
    ...     "mobilenet_v2", input_shape=(32, 32, 3), weights=None,
    ...     base_kwargs={"alpha": 0.35})
    >>> model.output_shape
    (None, 1280)
    """
    return _build(
        base,
        Head(pooling=pooling, name="head"),
        task="features",
        logits=False,
        input_shape=input_shape,
        weights=weights,
        base_kwargs=base_kwargs,
        freeze="base",
        bn="frozen",
        name=name,
    )


def _build(
    base,
    head,
    *,
    task,
    logits,
    input_shape,
    weights,
    base_kwargs,
    freeze,
    bn,
    name,
    class_names=None,
    regularization=None,
    model_class=TransferModel,
    **model_kwargs,
):
    # Checked before the (slow) base is built.
    if bn is None:
        bn = default_bn(base, weights)
    freezing.check_bn(bn)
    freeze = freezing.parse_policy(freeze)
    resolved = resolve_base(
        base,
        input_shape=input_shape,
        weights=weights,
        base_kwargs=base_kwargs,
    )
    if resolved.input_shape is not None:
        input_shape = resolved.input_shape
    model = model_class(
        resolved.model,
        head,
        preprocessing=resolved.preprocessing,
        input_shape=input_shape,
        input_dtype=resolved.input_dtype,
        base_name=resolved.name,
        task=task,
        logits=logits,
        bn=bn,
        name=name,
        class_names=class_names,
        regularization=regularization,
        **model_kwargs,
    )
    freezing.apply(model, freeze, bn=bn)
    return model


def default_bn(base, weights) -> str:
    """The BatchNormalization policy that follows the weights: `"train"`
    for a named base with random weights, else `"frozen"` (a `keras.Model`
    or TF-Hub base is taken to be pretrained).

    Example:

    >>> default_bn("resnet50", None), default_bn("resnet50", "imagenet")
    ('train', 'frozen')
    """
    named = isinstance(base, str) and not base.startswith("hub:")
    return "train" if named and weights is None else "frozen"
