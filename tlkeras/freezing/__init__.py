"""Freeze policies, layer groups and BatchNormalization handling."""

from tlkeras.freezing.groups import layer_groups
from tlkeras.freezing.groups import split_into_groups
from tlkeras.freezing.layer_group import LayerGroup
from tlkeras.freezing.policies import BN_POLICIES
from tlkeras.freezing.policies import UpTo
from tlkeras.freezing.policies import apply
from tlkeras.freezing.policies import freeze_base
from tlkeras.freezing.policies import freeze_up_to
from tlkeras.freezing.policies import set_trainable
from tlkeras.freezing.policies import unfreeze
from tlkeras.freezing.sync import sync_trainable

__all__ = [
    "BN_POLICIES",
    "LayerGroup",
    "UpTo",
    "apply",
    "freeze_base",
    "freeze_up_to",
    "layer_groups",
    "set_trainable",
    "split_into_groups",
    "sync_trainable",
    "unfreeze",
]
