"""Apply freeze policies: set which layers of a model train.

These functions set `trainable` flags and nothing else. On a
`tlkeras.TransferModel` the next `fit` picks the change up by itself; on a
plain `keras.Model` that has already been trained, call
`tlkeras.training.sync_trainable(model)` afterwards (Keras ignores flags
changed after its train function was traced).
"""

from typing import Optional
from typing import Sequence
from typing import Union

import keras

from tlkeras._utils import keras_internals
from tlkeras._utils.batch_norm import check_bn
from tlkeras.bases import HubBatchNormalization
from tlkeras.bases import HubLayer
from tlkeras.freezing import lora
from tlkeras.freezing.groups import layer_groups
from tlkeras.freezing.groups import split_head_groups
from tlkeras.freezing.policy import PolicyLike
from tlkeras.freezing.policy import UpTo
from tlkeras.freezing.policy import parse_policy

# Layers whose `trainable` flag says whether BatchNormalization statistics
# update in training; a TF-Hub module's BN layers stand behind one marker.
_BN_LAYERS = (keras.layers.BatchNormalization, HubBatchNormalization)


def apply(
    model: keras.Model, policy: PolicyLike, *, bn: Optional[str] = None
) -> None:
    """Apply a freeze policy: the base layers it names train, the rest of
    the base is frozen, and the head trains.

    `policy` is any form of `tlkeras.freezing.parse_policy`: `"base"` (the
    base is frozen), `"none"` (everything trains), `TrainTop(k)`,
    `TrainGroups([...])`, `UpTo(layer_name)`, `FreezeIf(predicate)` or a
    callable.

    BatchNormalization follows `bn`: `"frozen"` keeps every BN layer of the
    base in inference mode with fixed statistics (`trainable=False`, the
    Keras convention for fine-tuning), `"train"` lets the BN layers of
    trainable groups update their statistics and scales.

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
    >>> tlk.freezing.apply(model, tlk.freezing.TrainTop(1))
    >>> [g.name for g in tlk.layer_groups(model) if g.trainable]
    ['conv5', 'head']
    """
    policy = parse_policy(policy)
    bn = _resolve_bn(model, bn)
    base_groups, heads = split_head_groups(model)
    policy.prepare(model, base_groups)
    trainable = {id(layer) for layer in policy.trainable_layers(base_groups)}
    head_flags = [(layer, True) for g in heads for layer in g.layers]
    _set_flags(model, base_groups, trainable, head_flags, bn)


def trainable_groups(model: keras.Model, policy: PolicyLike) -> list:
    """The names of the groups that would train under `policy` (the head
    included), without changing the model.

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "resnet50", num_classes=2, input_shape=(32, 32, 3), weights=None)
    >>> tlk.freezing.trainable_groups(model, tlk.freezing.TrainTop(2))
    ['conv4', 'conv5', 'head']
    """
    base_groups, heads = split_head_groups(model)
    chosen = {
        id(layer)
        for layer in parse_policy(policy).trainable_layers(base_groups)
    }
    names = [
        g.name for g in base_groups if any(id(x) in chosen for x in g.layers)
    ]
    return names + [g.name for g in heads]


def _resolve_bn(model, bn):
    return check_bn(getattr(model, "bn", "frozen") if bn is None else bn)


def freeze_up_to(
    model: keras.Model, layer_name: str, *, bn: Optional[str] = None
) -> None:
    """Freeze the base up to and including `layer_name`; train the rest.

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "resnet50", num_classes=2, input_shape=(32, 32, 3), weights=None)
    >>> tlk.freezing.freeze_up_to(model, "conv4_block6_out")
    """
    apply(model, UpTo(layer_name), bn=bn)


def unfreeze(model: keras.Model, *, bn: Optional[str] = None) -> None:
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
    model: keras.Model,
    groups: Union[str, Sequence[str]],
    trainable: bool,
    *,
    bn: Optional[str] = None,
) -> None:
    """Freeze or unfreeze the named groups only; the others stay as they are.

    BatchNormalization follows `bn` (default: the model's policy).

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
    base_groups, heads = split_head_groups(model)
    trained = {id(v) for v in model.trainable_variables}
    on = {
        id(layer)
        for g in base_groups
        for layer in g.layers
        if any(id(v) in trained for v in layer.weights)
    }
    for group in base_groups:
        if group.name in names:
            ids = {id(layer) for layer in group.layers}
            on = on | ids if trainable else on - ids
    head_flags = [
        (layer, trainable if g.name in names else g.trainable)
        for g in heads
        for layer in g.layers
    ]
    _set_flags(model, base_groups, on, head_flags, bn)


def _set_flags(model, base_groups, trainable_ids, head_flags, bn):
    base_layers = [layer for g in base_groups for layer in g.layers]
    # A container's setter cascades to every sublayer, and a frozen
    # container hides the variables of its layers: open the containers
    # above the groups' layers (the model, the base, a HubLayer, the heads
    # of a multi-task model) first.
    ids = {id(layer) for layer in base_layers}
    ids |= {id(layer) for layer, _ in head_flags}
    for container in keras_internals.flatten_layers(model):
        if id(container) not in ids and any(
            id(sub) in ids
            for sub in keras_internals.flatten_layers(
                container, include_self=False
            )
        ):
            keras_internals.set_own_trainable(container, True)
    for layer in base_layers:
        layer.trainable = id(layer) in trainable_ids
        if bn == "frozen" or id(layer) not in trainable_ids:
            for sub in keras_internals.flatten_layers(layer):
                if isinstance(sub, _BN_LAYERS):
                    sub.trainable = False
    for layer, flag in head_flags:
        layer.trainable = flag
    # A TF-Hub module's BN statistics train when some of its blocks train
    # and the policy lets them.
    for layer in keras_internals.flatten_layers(model):
        if isinstance(layer, HubLayer):
            layer.batch_norm.trainable = bn == "train" and layer.trains()
    if hasattr(model, "bn"):
        model.bn = bn
    base = getattr(model, "base", None)
    if isinstance(base, keras.Model) and not trainable_ids:
        base.trainable = False
    # The setters above unfreeze adapted kernels with their layers.
    lora.lock_all(model)
