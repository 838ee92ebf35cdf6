"""Turn what the user passed as `base` into a Keras model and its extras."""

import dataclasses
import os
import re
from typing import Optional

import keras

from tlkeras.bases.application_preprocessing import ApplicationPreprocessing
from tlkeras.bases.hub_base import build_hub_base
from tlkeras.bases.registry import get_spec

_RESERVED_KWARGS = ("include_top", "weights", "input_shape", "input_tensor")


class WeightsUnavailableError(OSError):
    """Pretrained weights could not be downloaded or found."""


@dataclasses.dataclass
class ResolvedBase:
    """A base model with what the builders need to know about it."""

    model: keras.Model
    name: Optional[str] = None
    family: Optional[str] = None
    preprocessing: Optional[keras.layers.Layer] = None
    input_shape: Optional[tuple] = None
    input_dtype: str = "float32"


def keras_cache_dir() -> str:
    """The folder where Keras caches downloaded weights."""
    home = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras"
    )
    return os.path.join(home, "models")


def resolve_base(
    base,
    *,
    input_shape=None,
    weights="imagenet",
    base_kwargs=None,
) -> ResolvedBase:
    """Build or validate a base: a `keras.applications` name or a model.

    Args:
        base: a `keras.applications` name (`"MobileNetV2"`,
            `"mobilenet_v2"`...), `"hub:<handle>"` (a TF-Hub/Kaggle Models
            URL or a local TF2 SavedModel folder) or a `keras.Model`.
        input_shape: tuple, the input shape without the batch dimension.
        weights: `"imagenet"`, `None` or a path to a weights file. Only for
            named bases (a hub base brings its own: leave `"imagenet"`).
        base_kwargs: dict of extra constructor arguments (e.g. `alpha`);
            for a hub base `signature`, `output_key` and `arguments` (see
            `tlkeras.bases.HubLayer`).

    Example:

    >>> r = resolve_base("mobilenet_v2", input_shape=(32, 32, 3),
    ...                  weights=None, base_kwargs={"alpha": 0.35})
    >>> r.name, r.family
    ('MobileNetV2', 'mobilenet_v2')
    """
    if isinstance(base, keras.Model):
        if weights not in ("imagenet", None) or base_kwargs:
            raise ValueError(
                "`weights` and `base_kwargs` apply to bases given by name; "
                "load weights into your model before passing it. Received: "
                f"weights={weights!r}, base_kwargs={base_kwargs!r}"
            )
        return ResolvedBase(model=base)
    if isinstance(base, keras.layers.Layer):
        raise TypeError(
            "`base` must be a keras.Model or a base name; wrap a single layer "
            "in a keras.Sequential. Received: "
            f"base={base!r} (of type {type(base).__name__})"
        )
    if not isinstance(base, str):
        raise TypeError(
            "`base` must be a keras.applications name (see "
            "tlkeras.bases.list_bases()) or a keras.Model. Received: "
            f"base={base!r} (of type {type(base).__name__})"
        )
    if base.startswith("hub:"):
        model, preprocessing, shape, dtype = build_hub_base(
            base[len("hub:") :],
            input_shape=input_shape,
            weights=weights,
            base_kwargs=base_kwargs,
        )
        return ResolvedBase(model, None, "hub", preprocessing, shape, dtype)
    spec = get_spec(base)
    model = _build_application(spec, input_shape, weights, base_kwargs or {})
    preprocessing = None
    if spec.family_spec.preprocess:
        preprocessing = ApplicationPreprocessing(
            spec.family, name="preprocessing"
        )
    return ResolvedBase(model, spec.name, spec.family, preprocessing)


def _build_application(spec, input_shape, weights, base_kwargs):
    reserved = sorted(set(base_kwargs) & set(_RESERVED_KWARGS))
    if reserved:
        raise ValueError(
            f"`base_kwargs` may not set {reserved}: pass `weights` and "
            "`input_shape` to the builder itself. Received: "
            f"base_kwargs={base_kwargs!r}"
        )
    if weights not in ("imagenet", None) and not os.path.isfile(weights):
        raise FileNotFoundError(
            f"No weights file at {weights!r} for base {spec.name}. `weights` "
            "is 'imagenet', None or the path to a weights file (e.g. "
            f"'{spec.family}_..._no_top.h5')."
        )
    try:
        return spec.constructor(
            include_top=False,
            weights=weights,
            input_shape=None if input_shape is None else tuple(input_shape),
            **base_kwargs,
        )
    except TypeError as error:
        raise TypeError(
            f"Base {spec.name} rejected `base_kwargs`: {error}. Received: "
            f"base_kwargs={base_kwargs!r}"
        ) from error
    except ValueError as error:
        if weights not in ("imagenet", None) and re.search(
            r"mismatch|saved weight|expects shape", str(error), re.IGNORECASE
        ):
            raise ValueError(
                f"The weights file {weights!r} does not fit {spec.name} with "
                f"base_kwargs={base_kwargs!r}: {error}. It was saved from "
                "a network of other sizes (another `alpha` or depth, or "
                "with its classification top): use the file that matches "
                "`base_kwargs` (their names say, e.g. '..._0.35_224_no_top."
                "h5' for alpha 0.35 without the top)."
            ) from error
        if input_shape is not None and re.search(
            r"input|shape|size", str(error), re.IGNORECASE
        ):
            raise ValueError(
                f"Base {spec.name} cannot take input_shape="
                f"{tuple(input_shape)}: {error}"
            ) from error
        raise ValueError(f"Base {spec.name}: {error}") from error
    except Exception as error:
        if weights == "imagenet" and "URL fetch failure" in str(error):
            raise WeightsUnavailableError(
                f"Could not download the ImageNet weights of {spec.name}: "
                f"{error}. Keras looked for them in its cache folder "
                f"{keras_cache_dir()!r} (set KERAS_HOME to change it). "
                "Without a network, pass the path of a local weights file "
                "instead, e.g. weights='/path/to/"
                f"{spec.family}_..._no_top.h5', or weights=None for random "
                "initialisation."
            ) from error
        raise
