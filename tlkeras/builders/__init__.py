"""Builders: a base, a new head and a freeze policy, as one model."""

from tlkeras._utils.deprecation import moved_names
from tlkeras.builders.build import build_classifier
from tlkeras.builders.build import build_feature_extractor
from tlkeras.builders.build import build_regressor
from tlkeras.builders.multi_task_model import MultiTaskModel
from tlkeras.builders.multitask import build_multitask
from tlkeras.builders.transfer_model import TransferModel
from tlkeras.builders.weight_transfer import TransferReport
from tlkeras.builders.weight_transfer import transfer_weights

__all__ = [
    "MultiTaskModel",
    "TransferModel",
    "TransferReport",
    "build_classifier",
    "build_feature_extractor",
    "build_multitask",
    "build_regressor",
    "transfer_weights",
]
__getattr__ = moved_names(__name__, {"TASKS": "tlkeras.tasks"})
