"""`merge_lora`: fold LoRA adapters into the kernels, for export."""

import keras

from tlkeras._utils import keras_internals
from tlkeras.freezing import lora


def merge_lora(model: keras.Model) -> keras.Model:
    """A copy of `model` without LoRA adapters, each adapted kernel set to
    `W + (alpha / rank) A B`: the same predictions (to float tolerance)
    from plain layers, with no adapter matmuls at inference.

    The copy is uncompiled, with the same trainable flags; `model` is left
    as it is. `tlkeras.export.saved_model` and `tflite` merge by
    themselves. Keras has no way to take adapters off a layer, so this
    rebuilds the model from its config without them (like PEFT's
    `merge_and_unload`).

    Args:
        model: a `keras.Model` (a `tlkeras.TransferModel` or any other).

    Returns:
        A new model of the same class, or `model` itself when it has no
        adapters.

    Example:

    >>> import numpy as np, tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "mobilenet_v2", num_classes=2, input_shape=(32, 32, 3),
    ...     weights=None, base_kwargs={"alpha": 0.35},
    ...     freeze=tlk.freezing.LoRA(rank=2, targets=["top"]))
    >>> merged = tlk.freezing.merge_lora(model)
    >>> tlk.freezing.has_lora(merged)
    False
    >>> x = np.zeros((1, 32, 32, 3), "float32")
    >>> bool(np.allclose(merged.predict(x, verbose=0),
    ...                  model.predict(x, verbose=0), atol=1e-6))
    True
    """
    if not lora.has_lora(model):
        return model
    config = keras.saving.serialize_keras_object(model)
    merged = keras.saving.deserialize_keras_object(
        _without_lora(config), safe_mode=False
    )
    # `safe_mode=False`: the config is the live model's own, not a file's.
    sources = keras_internals.flatten_layers(model)
    targets = keras_internals.flatten_layers(merged)
    if len(sources) != len(targets):  # pragma: no cover - a Keras change
        raise RuntimeError(
            f"merge_lora rebuilt {len(targets)} layers from a model of "
            f"{len(sources)}; cannot copy the weights."
        )
    for source, target in zip(sources, targets):
        values = _merged_own_values(source)
        variables = keras_internals.own_variables(target)
        if len(values) != len(variables):  # pragma: no cover - as above
            raise RuntimeError(
                f"Layer {source.name!r}: {len(values)} weights to copy into "
                f"{len(variables)}."
            )
        for variable, value in zip(variables, values):
            variable.assign(value)
        keras_internals.set_own_trainable(target, source.trainable)
    return merged


def _merged_own_values(layer) -> list:
    adapters = {id(v) for v in lora.lora_variables(layer)}
    frozen = (
        keras_internals.lora_frozen_variable(layer)
        if getattr(layer, "lora_enabled", False)
        else None
    )
    values = []
    for variable in keras_internals.own_variables(layer):
        if id(variable) in adapters:
            continue
        if variable is frozen:
            merged = (
                layer.embeddings
                if isinstance(layer, keras.layers.Embedding)
                else layer.kernel
            )
            values.append(keras.ops.cast(merged, variable.dtype))
        else:
            values.append(variable)
    return values


def _without_lora(config):
    """`config` with every layer's LoRA settings (and a TransferModel's
    record of them) removed."""
    if isinstance(config, dict):
        transfer_model = "base" in config and "head" in config
        return {
            key: (
                None
                if key == "lora" and transfer_model
                else _without_lora(value)
            )
            for key, value in config.items()
            if key not in ("lora_rank", "lora_alpha")
        }
    if isinstance(config, list):
        return [_without_lora(value) for value in config]
    return config
