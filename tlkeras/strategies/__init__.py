"""Strategies: ways to transfer beyond plain `fit`.

`fit_cached` trains a frozen-base model's head on features computed once
(feature extraction and linear probing at the cost of their epochs);
`FeatureCache` is the cache it shares with the tuner and `rank_bases`.
"""

from tlkeras.strategies.features import FeatureCache
from tlkeras.strategies.features import compute_features
from tlkeras.strategies.features import extractor_of
from tlkeras.strategies.fit_cached import fit_cached
from tlkeras.strategies.head_training import fit_head

__all__ = [
    "FeatureCache",
    "compute_features",
    "extractor_of",
    "fit_cached",
    "fit_head",
]
