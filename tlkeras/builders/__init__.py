"""Builders: a base, a new head and a freeze policy, as one model."""

from tlkeras.builders.build import build_classifier
from tlkeras.builders.build import build_feature_extractor
from tlkeras.builders.build import build_regressor
from tlkeras.builders.transfer_model import TASKS
from tlkeras.builders.transfer_model import TransferModel

__all__ = [
    "TASKS",
    "TransferModel",
    "build_classifier",
    "build_feature_extractor",
    "build_regressor",
]
