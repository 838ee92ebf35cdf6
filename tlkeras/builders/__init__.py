"""Builders: a base, a new head and a freeze policy, as one model."""

from tlkeras._utils.deprecation import moved_names
from tlkeras.builders.build import build_classifier
from tlkeras.builders.build import build_feature_extractor
from tlkeras.builders.build import build_regressor
from tlkeras.builders.transfer_model import TransferModel

__all__ = [
    "TransferModel",
    "build_classifier",
    "build_feature_extractor",
    "build_regressor",
]
__getattr__ = moved_names(__name__, {"TASKS": "tlkeras.tasks"})
