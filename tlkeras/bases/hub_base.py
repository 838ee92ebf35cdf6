"""Build a base from a `"hub:<handle>"` string."""

import os
import re

import keras

from tlkeras.bases.hub_layer import HubLayer
from tlkeras.bases.hub_preprocessing import HubImagePreprocessing

_HUB_KWARGS = ("signature", "output_key", "arguments")


def build_hub_base(handle: str, *, input_shape, weights, base_kwargs):
    """The base model, its preprocessing, the model's input shape and
    dtype for a TF-Hub module. See `tlkeras.bases.resolve_base`."""
    if weights != "imagenet":
        raise ValueError(
            "A TF-Hub base brings its own pretrained weights; `weights` "
            "applies to keras.applications bases only. Received: "
            f"weights={weights!r} for base 'hub:{handle}'"
        )
    base_kwargs = dict(base_kwargs or {})
    unknown = sorted(set(base_kwargs) - set(_HUB_KWARGS))
    if unknown:
        raise ValueError(
            f"`base_kwargs` of a TF-Hub base may hold {list(_HUB_KWARGS)}. "
            f"Received: base_kwargs={base_kwargs!r}"
        )
    layer = HubLayer(handle, name="hub", **base_kwargs)
    spec = layer.input_spec_of_module()
    if spec is not None and spec.dtype.name == "string":
        if input_shape not in (None, ()):
            raise ValueError(
                f"The TF-Hub module {handle!r} takes strings, one per "
                "example: use input_shape=() (or leave it out). Received: "
                f"input_shape={input_shape!r}"
            )
        return _wrap(layer, (), "string", handle), None, (), "string"
    module_shape = None if spec is None else tuple(spec.shape[1:])
    if input_shape is None:
        if module_shape is None or None in module_shape:
            raise ValueError(
                f"The TF-Hub module {handle!r} takes inputs of shape "
                f"{module_shape}: pass `input_shape`, e.g. (224, 224, 3)."
            )
        input_shape = module_shape
    input_shape = tuple(input_shape)
    base_shape, preprocessing = input_shape, None
    if len(input_shape) == 3:  # images: [0, 255] -> [0, 1], fixed size
        size = None
        if module_shape is not None and len(module_shape) == 3:
            fixed = module_shape[:2]
            if None not in fixed and tuple(fixed) != input_shape[:2]:
                size, base_shape = tuple(fixed), tuple(module_shape)
        preprocessing = HubImagePreprocessing(size=size, name="preprocessing")
    base = _wrap(layer, base_shape, "float32", handle)
    return base, preprocessing, input_shape, "float32"


def _wrap(layer, shape, dtype, handle):
    inputs = keras.Input(shape=shape, dtype=dtype, name="module_inputs")
    stem = os.path.basename(os.path.normpath(handle)) or "module"
    if stem.isdigit():  # tfhub.dev/.../feature_vector/5
        parts = os.path.normpath(handle).split(os.sep)
        stem = "_".join(parts[-3:-1]) if len(parts) > 2 else stem
    name = "hub_" + re.sub(r"\W", "_", stem)
    return keras.Model(inputs, layer(inputs), name=name)
