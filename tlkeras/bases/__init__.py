"""Bases: `keras.applications` by name, TF-Hub modules (`"hub:<handle>"`),
or any `keras.Model`."""

from tlkeras.bases.application_preprocessing import ApplicationPreprocessing
from tlkeras.bases.families import FAMILIES
from tlkeras.bases.families import Family
from tlkeras.bases.families import get_family
from tlkeras.bases.group_rules import GroupRules
from tlkeras.bases.hub_handles import HubModuleNotFoundError
from tlkeras.bases.hub_handles import UntrustedHubHandleError
from tlkeras.bases.hub_handles import hub_cache_dir
from tlkeras.bases.hub_handles import hub_relocations
from tlkeras.bases.hub_handles import trusted_hub_handles
from tlkeras.bases.hub_layer import HubBatchNormalization
from tlkeras.bases.hub_layer import HubBlock
from tlkeras.bases.hub_layer import HubLayer
from tlkeras.bases.hub_preprocessing import HubImagePreprocessing
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
    "FAMILIES",
    "Family",
    "GroupRules",
    "HubBatchNormalization",
    "HubBlock",
    "HubImagePreprocessing",
    "HubLayer",
    "HubModuleNotFoundError",
    "ResolvedBase",
    "UntrustedHubHandleError",
    "WeightsUnavailableError",
    "get_family",
    "get_spec",
    "hub_cache_dir",
    "hub_relocations",
    "keras_cache_dir",
    "list_bases",
    "resolve_base",
    "trusted_hub_handles",
]
