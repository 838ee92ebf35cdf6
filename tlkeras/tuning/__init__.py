"""Tuning: KerasTuner hypermodels and choosing a base before training."""

from tlkeras.tuning.rank import BaseScore
from tlkeras.tuning.rank import format_ranking
from tlkeras.tuning.rank import rank_bases
from tlkeras.tuning.search_space import DEFAULT_SPACE
from tlkeras.tuning.transferability import h_score
from tlkeras.tuning.transferability import leep
from tlkeras.tuning.transferability import logme
from tlkeras.tuning.transferability import nce

__all__ = [
    "DEFAULT_SPACE",
    "BaseScore",
    "TransferHyperModel",
    "format_ranking",
    "h_score",
    "leep",
    "logme",
    "nce",
    "rank_bases",
]


def __getattr__(name):
    # KerasTuner is imported on first use, never by `import tlkeras`.
    if name == "TransferHyperModel":
        from tlkeras.tuning.hypermodel import TransferHyperModel

        return TransferHyperModel
    raise AttributeError(f"module 'tlkeras.tuning' has no attribute {name!r}")
