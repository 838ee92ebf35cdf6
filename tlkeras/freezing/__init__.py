"""Which layers train: freeze policies, layer groups, BatchNormalization.

Everything here sets `trainable` flags and nothing else;
`tlkeras.training.sync_trainable` makes a change take effect on a model
that was already trained (`tlkeras.TransferModel` calls it by itself).
"""

from tlkeras._utils.batch_norm import BN_POLICIES
from tlkeras._utils.batch_norm import check_bn
from tlkeras._utils.deprecation import moved_names
from tlkeras.freezing.groups import layer_groups
from tlkeras.freezing.groups import split_head_groups
from tlkeras.freezing.groups import split_into_groups
from tlkeras.freezing.layer_group import LayerGroup
from tlkeras.freezing.lora import LoRA
from tlkeras.freezing.lora import LoRAReport
from tlkeras.freezing.lora import has_lora
from tlkeras.freezing.lora import lora_report
from tlkeras.freezing.lora import lora_variables
from tlkeras.freezing.lora_merge import merge_lora
from tlkeras.freezing.policies import apply
from tlkeras.freezing.policies import freeze_base
from tlkeras.freezing.policies import freeze_up_to
from tlkeras.freezing.policies import set_trainable
from tlkeras.freezing.policies import trainable_groups
from tlkeras.freezing.policies import unfreeze
from tlkeras.freezing.policy import FreezeIf
from tlkeras.freezing.policy import Policy
from tlkeras.freezing.policy import PolicyLike
from tlkeras.freezing.policy import TrainGroups
from tlkeras.freezing.policy import TrainTop
from tlkeras.freezing.policy import UpTo
from tlkeras.freezing.policy import parse_policy

__all__ = [
    "BN_POLICIES",
    "FreezeIf",
    "LayerGroup",
    "LoRA",
    "LoRAReport",
    "Policy",
    "PolicyLike",
    "TrainGroups",
    "TrainTop",
    "UpTo",
    "apply",
    "check_bn",
    "freeze_base",
    "freeze_up_to",
    "has_lora",
    "layer_groups",
    "lora_report",
    "lora_variables",
    "merge_lora",
    "parse_policy",
    "set_trainable",
    "split_head_groups",
    "split_into_groups",
    "trainable_groups",
    "unfreeze",
]

# Names that moved to a higher layer, kept for one release.
__getattr__ = moved_names(__name__, {"sync_trainable": "tlkeras.training"})
