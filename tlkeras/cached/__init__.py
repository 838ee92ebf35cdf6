"""Cached features: a frozen base run once over the data, and the model's
own head trained on what it computed.

`fit_cached` (exported as `tlkeras.strategies.fit_cached`) is the entry
point; `FeatureCache` the cache it shares with the recipes, the tuner and
`rank_bases`; `fit_head` trains a head on features; head checkpoints
(`tlkeras.builders.head_checkpoint`) keep what such a run trained.
"""

from tlkeras.cached.features import AUGMENTED_COPIES
from tlkeras.cached.features import FeatureCache
from tlkeras.cached.features import augments
from tlkeras.cached.features import batches
from tlkeras.cached.features import compute_features
from tlkeras.cached.features import extractor_of
from tlkeras.cached.features import split_validation
from tlkeras.cached.fit_cached import fit_cached
from tlkeras.cached.head_training import fit_head

__all__ = [
    "AUGMENTED_COPIES",
    "FeatureCache",
    "augments",
    "batches",
    "compute_features",
    "extractor_of",
    "fit_cached",
    "fit_head",
    "split_validation",
]
