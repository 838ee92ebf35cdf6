"""Split models into layer groups, input side first, head last."""

from typing import List
from typing import Optional
from typing import Sequence

import keras

from tlkeras._utils.sizes import num_elements
from tlkeras.bases import HubLayer
from tlkeras.bases import get_spec
from tlkeras.freezing.layer_group import LayerGroup

# Bases with at most this many units (see `split_into_groups`) get one group
# per unit; larger ones get DEFAULT_NUM_GROUPS balanced groups.
MAX_LAYERWISE_GROUPS = 6
DEFAULT_NUM_GROUPS = 4
_NORMALIZATION = (
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
    keras.layers.GroupNormalization,
    keras.layers.UnitNormalization,
)


def layer_groups(model: keras.Model) -> List[LayerGroup]:
    """The layer groups of a model, input side first, the head last.

    For a `tlkeras.TransferModel` the base is split by its architecture
    (ResNet: `stem`, `conv2` ... `conv5`; MobileNetV2: `stem`, `stage1` ...
    `stage4`, `top`; EfficientNet: `stem`, `block1` ... `top`...), or, for a
    base tlkeras does not know, into contiguous groups balanced by parameter
    count (one group per layer for small bases). A TF-Hub base has one group
    per block of its variable names (`Conv`, `expanded_conv`,
    `expanded_conv_1`..., in the order the module uses them). The base's
    preprocessing
    joins the first group, and the last group, `"head"`, is the head (a
    multi-task model has one group per head instead, named after it).

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
    if hasattr(model, "tlk_layer_groups"):
        # A wrapper that knows its groups (a DomainAdaptation model).
        return model.tlk_layer_groups()
    base = getattr(model, "base", None)
    head = getattr(model, "head", None)
    if isinstance(base, keras.Model) and head is not None:
        hub = _hub_layer(base)
        if hub is not None:
            groups = [LayerGroup(b.name, [b], model) for b in hub.blocks]
        else:
            groups = _split(
                model, _layers(base), getattr(model, "base_name", None)
            )
        preprocessing = getattr(model, "preprocessing", None)
        if preprocessing is not None and groups:
            groups[0].layers.insert(0, preprocessing)
        heads = getattr(head, "heads", None)
        if isinstance(heads, dict):
            # A multi-task model: one group per named head.
            groups += [LayerGroup(n, [h], model) for n, h in heads.items()]
        else:
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


def split_head_groups(model: keras.Model) -> tuple:
    """The model's layer groups as `(base groups, head groups)`: the head
    groups are the last group, or one per head of a multi-task model.

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_multitask(
    ...     "mobilenet_v2", heads={"kind": 3, "size": "regression"},
    ...     input_shape=(32, 32, 3), weights=None,
    ...     base_kwargs={"alpha": 0.35})
    >>> base, heads = tlk.freezing.split_head_groups(model)
    >>> base[-1].name, [g.name for g in heads]
    ('top', ['kind', 'size'])
    """
    groups = layer_groups(model)
    heads = getattr(getattr(model, "head", None), "heads", None)
    count = len(heads) if isinstance(heads, dict) else 1
    count = getattr(model, "tlk_head_groups", count)
    return groups[:-count], groups[-count:]


def split_into_groups(
    layers: Sequence[keras.layers.Layer],
    num_groups: Optional[int] = None,
    *,
    model: Optional[keras.Model] = None,
) -> List[LayerGroup]:
    """Split `layers` into contiguous groups balanced by parameter count.

    The split works on units: a layer with weights of its own (a `Dense`,
    a `Conv2D`...) together with the normalization, activation and other
    layers that follow it up to the next such layer, so a conv-BN-ReLU
    block stays whole. Layers before the first unit join the first group.
    With `num_groups=None`, at most 6 units give one group per unit, named
    after its first layer; more give 4 groups, `group1` ... `group4`.

    Args:
        layers: the layers, in model order.
        num_groups: int or `None`, how many groups to make.
        model: the model the layers belong to (for trainability).

    Example:

    >>> dense = [keras.layers.Dense(8, name=n) for n in ("a", "b", "c")]
    >>> mlp = keras.Sequential([keras.Input((4,))] + dense)
    >>> [g.name for g in split_into_groups(mlp.layers, model=mlp)]
    ['a', 'b', 'c']
    """
    layers = list(layers)
    starts = [i for i, layer in enumerate(layers) if _starts_unit(layer)]
    if not starts:
        return [LayerGroup("group1", layers, model)] if layers else []
    # The first unit names its group but also takes the layers before it.
    names = [layers[i].name for i in starts]
    bounds = [0] + starts[1:] + [len(layers)]
    units = list(zip(bounds, bounds[1:]))
    if num_groups is None:
        if len(units) <= MAX_LAYERWISE_GROUPS:
            return [
                LayerGroup(name, layers[s:e], model)
                for name, (s, e) in zip(names, units)
            ]
        num_groups = DEFAULT_NUM_GROUPS
    if not isinstance(num_groups, int) or num_groups < 1:
        raise ValueError(
            "`num_groups` must be a positive int. Received: "
            f"num_groups={num_groups!r}"
        )
    num_groups = min(num_groups, len(units))
    sizes = [
        sum(num_elements(v) for layer in layers[s:e] for v in layer.weights)
        for s, e in units
    ]
    cuts = _balanced_cuts(sizes, num_groups)
    edges = [0] + cuts + [len(units)]
    return [
        LayerGroup(
            f"group{n + 1}", layers[units[a][0] : units[b - 1][1]], model
        )
        for n, (a, b) in enumerate(zip(edges, edges[1:]))
    ]


def _balanced_cuts(sizes, num_groups) -> list:
    """Cut points splitting `sizes` into `num_groups` contiguous, non-empty
    runs whose largest sum is as small as possible (dynamic programming)."""
    prefix = [0]
    for size in sizes:
        prefix.append(prefix[-1] + size)
    n = len(sizes)
    inf = float("inf")
    # best[k][j]: the smallest largest-run sum splitting sizes[:j] in k runs.
    best = [[inf] * (n + 1) for _ in range(num_groups + 1)]
    choice = [[0] * (n + 1) for _ in range(num_groups + 1)]
    best[0][0] = 0
    for k in range(1, num_groups + 1):
        for j in range(k, n + 1):
            for i in range(k - 1, j):
                cost = max(best[k - 1][i], prefix[j] - prefix[i])
                if cost < best[k][j]:
                    best[k][j], choice[k][j] = cost, i
    cuts, j = [], n
    for k in range(num_groups, 1, -1):
        j = choice[k][j]
        cuts.append(j)
    return sorted(cuts)


def _starts_unit(layer) -> bool:
    """Whether a layer holds weights of its own that are not
    normalization statistics or scales."""
    return bool(layer.weights) and not isinstance(layer, _NORMALIZATION)


def _split(model, layers, base_name) -> List[LayerGroup]:
    rules = None
    if base_name is not None:
        spec = get_spec(base_name)
        rules = spec.group_rules
    if rules is None:
        return split_into_groups(layers, model=model)
    names = rules.assign([layer.name for layer in layers])
    groups = {}
    for layer, name in zip(layers, names):
        groups.setdefault(name, []).append(layer)
    return [
        LayerGroup(name, members, model) for name, members in groups.items()
    ]


def _hub_layer(base):
    """The base's `HubLayer` when the base is a TF-Hub module."""
    hubs = [layer for layer in base.layers if isinstance(layer, HubLayer)]
    return hubs[0] if len(hubs) == 1 else None


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
