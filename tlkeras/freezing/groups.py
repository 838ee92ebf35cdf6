"""Split models into layer groups, input side first, head last."""

from typing import List
from typing import Optional
from typing import Sequence

import keras

from tlkeras.bases import group_rules
from tlkeras.bases.registry import get_spec
from tlkeras.freezing.layer_group import LayerGroup
from tlkeras.freezing.layer_group import _size

# Models with at most this many layers that hold weights get one group per
# such layer; larger ones get DEFAULT_NUM_GROUPS balanced groups.
MAX_LAYERWISE_GROUPS = 6
DEFAULT_NUM_GROUPS = 4


def layer_groups(model: keras.Model) -> List[LayerGroup]:
    """The layer groups of a model, input side first, the head last.

    For a `tlkeras.TransferModel` the base is split by its architecture
    (ResNet: `stem`, `conv2` ... `conv5`; MobileNetV2: `stem`, `stage1` ...
    `stage4`, `top`; EfficientNet: `stem`, `block1` ... `top`...), or, for a
    base tlkeras does not know, into contiguous groups balanced by parameter
    count (one group per layer for small bases). The base's preprocessing
    joins the first group, and the last group, `"head"`, is the head.

    For any other `keras.Model`, its layers are split the same way and its
    last layer with weights is the `"head"`.

    Args:
        model: a `tlkeras.TransferModel` or any built `keras.Model`.

    Returns:
        A list of `LayerGroup`s with unique names.

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "resnet50", num_classes=2, input_shape=(32, 32, 3), weights=None)
    >>> [g.name for g in tlk.layer_groups(model)]
    ['stem', 'conv2', 'conv3', 'conv4', 'conv5', 'head']
    """
    cached = getattr(model, "_tlk_layer_groups", None)
    if cached is not None:
        return list(cached)
    base = getattr(model, "base", None)
    head = getattr(model, "head", None)
    if isinstance(base, keras.Model) and head is not None:
        groups = _split(model, _layers(base), getattr(model, "base_name", None))
        preprocessing = getattr(model, "preprocessing", None)
        if preprocessing is not None and groups:
            groups[0].layers.insert(0, preprocessing)
        groups.append(LayerGroup("head", [head], model))
    else:
        layers = _layers(model)
        weighted = [i for i, layer in enumerate(layers) if layer.weights]
        if not weighted:
            raise ValueError(
                f"Model {model.name!r} has no layer with weights to group."
            )
        cut = weighted[-1]
        groups = _split(model, layers[:cut], None)
        groups.append(LayerGroup("head", layers[cut:], model))
    _check_unique([g.name for g in groups])
    model._tlk_layer_groups = groups
    return list(groups)


def split_into_groups(
    layers: Sequence[keras.layers.Layer],
    num_groups: Optional[int] = None,
    *,
    model: Optional[keras.Model] = None,
) -> List[LayerGroup]:
    """Split `layers` into contiguous groups balanced by parameter count.

    Layers without weights join the next layer that has some (the last
    ones join the last group). With `num_groups=None`, a list with at most
    6 weighted layers gets one group per weighted layer, named after it;
    a longer one gets 4 groups named `group1` ... `group4`.

    Args:
        layers: the layers, in model order.
        num_groups: int or `None`, how many groups to make.
        model: the model the layers belong to (for trainability).

    Example:

    >>> mlp = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8),
    ...                         keras.layers.Dense(8), keras.layers.Dense(2)])
    >>> [g.name for g in split_into_groups(mlp.layers, model=mlp)]
    ['dense', 'dense_1', 'dense_2']
    """
    layers = list(layers)
    weighted = [i for i, layer in enumerate(layers) if layer.weights]
    if not weighted:
        return [LayerGroup("group1", layers, model)] if layers else []
    if num_groups is None:
        if len(weighted) <= MAX_LAYERWISE_GROUPS:
            return _layerwise(layers, weighted, model)
        num_groups = DEFAULT_NUM_GROUPS
    if not isinstance(num_groups, int) or num_groups < 1:
        raise ValueError(
            f"`num_groups` must be a positive int. Received: "
            f"num_groups={num_groups!r}"
        )
    num_groups = min(num_groups, len(weighted))
    sizes = [sum(_size(v) for v in layer.weights) for layer in layers]
    total = sum(sizes)
    # Cut after the layer where the running total first reaches k/n of it,
    # never leaving a group without a weighted layer.
    cuts, running, k = [], 0, 1
    for i, size in enumerate(sizes):
        running += size
        remaining_weighted = sum(1 for j in weighted if j > i)
        groups_left = num_groups - len(cuts) - 1
        if (
            groups_left > 0
            and size > 0
            and (running >= total * k / num_groups
                 or remaining_weighted == groups_left)
        ):
            cuts.append(i + 1)
            k = len(cuts) + 1
    bounds = [0] + cuts + [len(layers)]
    return [
        LayerGroup(f"group{n + 1}", layers[a:b], model)
        for n, (a, b) in enumerate(zip(bounds, bounds[1:]))
    ]


def _layerwise(layers, weighted, model):
    groups, start = [], 0
    for n, i in enumerate(weighted):
        end = i + 1 if n < len(weighted) - 1 else len(layers)
        groups.append(LayerGroup(layers[i].name, layers[start:end], model))
        start = end
    return groups


def _split(model, layers, base_name) -> List[LayerGroup]:
    rules = None
    if base_name is not None:
        spec = get_spec(base_name)
        rules = group_rules.rules_for(spec.name, spec.family)
    if rules is None:
        return split_into_groups(layers, model=model)
    names = rules.assign([layer.name for layer in layers])
    groups = {}
    for layer, name in zip(layers, names):
        groups.setdefault(name, []).append(layer)
    return [LayerGroup(name, members, model) for name, members in groups.items()]


def _layers(model):
    return [
        layer
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
    ]



def _check_unique(names):
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(
            f"Layer group names must be unique; {duplicates} appear more "
            f"than once in {names}."
        )
