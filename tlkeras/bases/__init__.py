"""Bases: `keras.applications` by name, or any `keras.Model`."""

from tlkeras.bases.application_preprocessing import ApplicationPreprocessing
from tlkeras.bases.registry import BaseSpec
from tlkeras.bases.registry import get_spec
from tlkeras.bases.registry import list_bases
from tlkeras.bases.resolve import ResolvedBase
from tlkeras.bases.resolve import WeightsUnavailableError
from tlkeras.bases.resolve import keras_cache_dir
from tlkeras.bases.resolve import resolve_base

__all__ = [
    "ApplicationPreprocessing",
    "BaseSpec",
    "ResolvedBase",
    "WeightsUnavailableError",
    "get_spec",
    "keras_cache_dir",
    "list_bases",
    "resolve_base",
]
