"""Freeze policies: which layers of a model train."""

import dataclasses
from typing import Callable
from typing import Optional
from typing import Union

import keras

from tlkeras._utils.close_matches import did_you_mean
from tlkeras.bases.hub_layer import HubLayer
from tlkeras.freezing.groups import layer_groups
from tlkeras.freezing.sync import sync_trainable

BN_POLICIES = ("frozen", "train")


@dataclasses.dataclass(frozen=True)
class UpTo:
    """Freeze the base up to and including the layer `layer_name`.

    Example:

    >>> policy = UpTo("block_13_expand")
    """

    layer_name: str


Policy = Union[str, int, UpTo, Callable[[keras.layers.Layer], bool]]


def apply(model: keras.Model, policy: Policy, *, bn: Optional[str] = None):
    """Apply a freeze policy to a model, and make it take effect.

    The head always trains; the policy says which base layers train:

    - `"base"`: none (feature extraction, linear probing);
    - `"none"`: all (full fine-tuning);
    - an int `k`: the last `k` base groups of `tlkeras.layer_groups`, those
      nearest the head (`0` is the same as `"base"`);
    - `UpTo(name)`: every base layer after the layer `name`;
    - a callable `predicate(layer) -> bool`: the base layers for which it
      returns False (it says which layers to freeze).

    BatchNormalization follows `bn`: `"frozen"` keeps every BN layer of the
    base in inference mode with fixed statistics (`trainable=False`, the
    Keras convention for fine-tuning), `"train"` lets the BN layers of
    trainable groups update their statistics and scales.

    On a compiled model the change takes effect at once: the optimizer is
    rebuilt in place for the new trainable variables (state of variables
    still trained is kept) and the train function is traced again.

    Args:
        model: a `tlkeras.TransferModel` or another `keras.Model` (then
            `tlkeras.layer_groups` decides what is the head).
        policy: the policy, as above.
        bn: `"frozen"`, `"train"` or `None` to keep the model's own
            (`"frozen"` for models not built by tlkeras).

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "resnet50", num_classes=2, input_shape=(32, 32, 3), weights=None)
    >>> tlk.freezing.apply(model, 1)          # conv5 and the head train
    >>> [g.name for g in tlk.layer_groups(model) if g.trainable]
    ['conv5', 'head']
    """
    bn = _resolve_bn(model, bn)
    groups = layer_groups(model)
    base_groups, head = groups[:-1], groups[-1]
    base_layers = [layer for g in base_groups for layer in g.layers]
    trainable = _trainable_base_layers(policy, base_groups, base_layers)
    _set_flags(model, base_layers, trainable, head.layers, bn, True)
    _finish(model, bn)


def check_bn(bn) -> str:
    """Return `bn` if it is a BatchNormalization policy, else raise."""
    if bn not in BN_POLICIES:
        raise ValueError(
            f"`bn` must be one of {BN_POLICIES}. Received: bn={bn!r}"
        )
    return bn


def _resolve_bn(model, bn):
    return check_bn(getattr(model, "bn", "frozen") if bn is None else bn)


def _finish(model, bn):
    if hasattr(model, "bn"):
        model.bn = bn
    for layer in model._flatten_layers():
        if isinstance(layer, HubLayer):
            layer.bn = bn  # the module runs its BN in inference unless "train"
    sync_trainable(model)


def freeze_up_to(model: keras.Model, layer_name: str, *, bn=None) -> None:
    """Freeze the base up to and including `layer_name`; train the rest.

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "resnet50", num_classes=2, input_shape=(32, 32, 3), weights=None)
    >>> tlk.freezing.freeze_up_to(model, "conv4_block6_out")
    """
    apply(model, UpTo(layer_name), bn=bn)


def unfreeze(model: keras.Model, *, bn=None) -> None:
    """Train the whole model (BN statistics as `bn` says).

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "resnet50", num_classes=2, input_shape=(32, 32, 3), weights=None)
    >>> tlk.freezing.unfreeze(model)
    """
    apply(model, "none", bn=bn)


def freeze_base(model: keras.Model) -> None:
    """Freeze the whole base; only the head trains.

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "resnet50", num_classes=2, input_shape=(32, 32, 3), weights=None)
    >>> tlk.freezing.freeze_base(model)
    """
    apply(model, "base")


def set_trainable(
    model: keras.Model, groups, trainable: bool, *, bn: Optional[str] = None
) -> None:
    """Freeze or unfreeze the named groups only; the others stay as they are.

    BatchNormalization follows `bn` (default: the model's policy), and the
    change takes effect at once on a compiled model.

    Args:
        model: a `tlkeras.TransferModel` or another `keras.Model`.
        groups: a group name or a list of them (see `layer_groups`).
        trainable: bool.
        bn: `"frozen"`, `"train"` or `None` for the model's own.

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "resnet50", num_classes=2, input_shape=(32, 32, 3), weights=None)
    >>> tlk.freezing.set_trainable(model, ["conv4", "conv5"], True)
    >>> [g.name for g in tlk.layer_groups(model) if g.trainable]
    ['conv4', 'conv5', 'head']
    """
    bn = _resolve_bn(model, bn)
    names = [groups] if isinstance(groups, str) else list(groups)
    all_groups = layer_groups(model)
    known = [g.name for g in all_groups]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(
            f"No layer group named {unknown}. The groups: {known}."
        )
    base_groups, head = all_groups[:-1], all_groups[-1]
    base_layers = [layer for g in base_groups for layer in g.layers]
    trained = {id(v) for v in model.trainable_variables}
    on = {
        id(layer)
        for layer in base_layers
        if any(id(v) in trained for v in layer.weights)
    }
    for group in base_groups:
        if group.name in names:
            ids = {id(layer) for layer in group.layers}
            on = on | ids if trainable else on - ids
    head_trainable = trainable if head.name in names else head.trainable
    _set_flags(model, base_layers, on, head.layers, bn, head_trainable)
    _finish(model, bn)


def _trainable_base_layers(policy, base_groups, base_layers) -> set:
    if isinstance(policy, bool):
        raise TypeError(_policy_message(policy))
    if policy == "base":
        return set()
    if policy == "none":
        return {id(layer) for layer in base_layers}
    if isinstance(policy, int):
        if not 0 <= policy <= len(base_groups):
            names = [g.name for g in base_groups]
            raise ValueError(
                f"freeze={policy} asks for the top {policy} base groups, but "
                f"the base has {len(base_groups)}: {names}. Use an int from "
                f"0 to {len(base_groups)}."
            )
        chosen = base_groups[len(base_groups) - policy :]
        return {id(layer) for g in chosen for layer in g.layers}
    if isinstance(policy, UpTo):
        names = [layer.name for layer in base_layers]
        if policy.layer_name not in names:
            raise ValueError(
                f"No layer named {policy.layer_name!r} in the base."
                f"{did_you_mean(policy.layer_name, names)}"
            )
        cut = names.index(policy.layer_name) + 1
        return {id(layer) for layer in base_layers[cut:]}
    if callable(policy):
        return {id(layer) for layer in base_layers if not policy(layer)}
    raise ValueError(_policy_message(policy))


def _policy_message(policy):
    return (
        "`freeze` must be 'base', 'none', an int (the number of top base "
        "groups to train), tlkeras.freezing.UpTo(layer_name) or a callable "
        f"layer -> bool (True freezes). Received: freeze={policy!r}"
    )


def _set_flags(
    model, base_layers, trainable_ids, head_layers, bn, head_trainable
):
    # A container's setter cascades to every sublayer, and a frozen
    # container hides the variables of its layers: open the containers
    # above the groups' layers (the model, the base, a HubLayer) first.
    ids = {id(layer) for layer in base_layers}
    for container in model._flatten_layers():
        if id(container) not in ids and any(
            id(sub) in ids
            for sub in container._flatten_layers(include_self=False)
        ):
            container._trainable = True
    for layer in base_layers:
        layer.trainable = id(layer) in trainable_ids
        if bn == "frozen" or id(layer) not in trainable_ids:
            for sub in layer._flatten_layers():
                if isinstance(sub, keras.layers.BatchNormalization):
                    sub.trainable = False
    for layer in head_layers:
        layer.trainable = head_trainable
    base = getattr(model, "base", None)
    if isinstance(base, keras.Model) and not trainable_ids:
        base.trainable = False
