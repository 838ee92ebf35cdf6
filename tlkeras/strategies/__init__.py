"""Strategies: ways to transfer beyond plain `fit`, and a comparison of
them on your data.

`fit_cached` trains a frozen-base model's head on features computed once
(feature extraction and linear probing at the cost of their epochs);
`FeatureCache` is the cache it shares with the tuner and `rank_bases`.
`compare` runs several strategies (`STRATEGIES`, or your own `Strategy`)
under one budget and set of seeds.
"""

from tlkeras.cached import FeatureCache
from tlkeras.cached import batches
from tlkeras.cached import compute_features
from tlkeras.cached import extractor_of
from tlkeras.cached import fit_cached
from tlkeras.cached import fit_head
from tlkeras.cached import split_validation
from tlkeras.strategies.compare import STRATEGIES
from tlkeras.strategies.compare import Comparison
from tlkeras.strategies.compare import Run
from tlkeras.strategies.compare import Strategy
from tlkeras.strategies.compare import compare
from tlkeras.strategies.compare import register_strategy
from tlkeras.strategies.compare import write_comparison
from tlkeras.strategies.distillation import Distiller
from tlkeras.strategies.domain_adaptation import METHODS as ADAPTATION_METHODS
from tlkeras.strategies.domain_adaptation import DomainAdaptation
from tlkeras.strategies.gradient_reversal import GradientReversal
from tlkeras.strategies.gradient_reversal import ganin_ramp
from tlkeras.strategies.gradient_reversal import gradient_reversal
from tlkeras.strategies.self_training import SelfTrainingHistory
from tlkeras.strategies.self_training import SelfTrainingRound
from tlkeras.strategies.self_training import self_train

__all__ = [
    "ADAPTATION_METHODS",
    "STRATEGIES",
    "Comparison",
    "Distiller",
    "DomainAdaptation",
    "GradientReversal",
    "FeatureCache",
    "Run",
    "SelfTrainingHistory",
    "SelfTrainingRound",
    "Strategy",
    "batches",
    "compare",
    "compute_features",
    "extractor_of",
    "fit_cached",
    "fit_head",
    "ganin_ramp",
    "gradient_reversal",
    "register_strategy",
    "self_train",
    "split_validation",
    "write_comparison",
]
