"""The `keras.applications` bases tlkeras knows by name."""

import dataclasses
import functools
import inspect
from typing import Callable

import keras

from tlkeras._utils.close_matches import did_you_mean
from tlkeras._utils.close_matches import normalize
from tlkeras.bases.families import Family
from tlkeras.bases.families import get_family


@dataclasses.dataclass(frozen=True)
class BaseSpec:
    """One named base: its constructor and its `keras.applications` family.

    Attributes:
        name: the Keras name, e.g. `"MobileNetV2"`.
        family: the module it lives in, e.g. `"mobilenet_v2"`; its spec
            (`family_spec`) holds the preprocessing and layer-group rules.
        constructor: the `keras.applications` function.
    """

    name: str
    family: str
    constructor: Callable

    @property
    def family_spec(self) -> Family:
        """What tlkeras knows of the family (`tlkeras/bases/families.py`)."""
        return get_family(self.family)

    @property
    def group_rules(self):
        """The `GroupRules` of this base, or `None` (balanced split)."""
        return self.family_spec.rules_for(self.name)


@functools.lru_cache(maxsize=None)
def _specs() -> dict:
    specs = {}
    for name, fn in inspect.getmembers(keras.applications, callable):
        if not name[:1].isupper():
            continue
        family = fn.__module__.rsplit(".", 1)[-1]
        specs[normalize(name)] = BaseSpec(name, family, fn)
    return specs


def list_bases() -> list:
    """The names of every `keras.applications` base, sorted.

    Any of them (in any case, with or without underscores) can be passed to
    `tlkeras.build_classifier`.

    Example:

    >>> "MobileNetV2" in list_bases()
    True
    """
    return sorted(spec.name for spec in _specs().values())


def get_spec(name: str) -> BaseSpec:
    """The `BaseSpec` for `name`, matched ignoring case and underscores.

    Raises:
        ValueError: `name` is not a known base; the message lists the
            closest names.

    Example:

    >>> get_spec("mobilenet_v2").name
    'MobileNetV2'
    """
    spec = _specs().get(normalize(name))
    if spec is None:
        raise ValueError(
            f"Unknown base {name!r}.{did_you_mean(name, list_bases())} "
            "tlkeras.bases.list_bases() lists them all."
        )
    return spec
