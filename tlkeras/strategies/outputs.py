"""Reading a model's outputs as logits, whether it gives logits or
probabilities (distillation and domain adaptation both need logits)."""

import keras
import numpy as np
from keras import ops

OUTPUTS = ("auto", "logits", "probabilities")
# The smallest normal float32: a probability below it was 0 (underflow),
# whose log is below -87; clipping a larger epsilon (1e-7) would change the
# softened targets of a confident teacher.
_EPSILON = float(np.finfo("float32").tiny)


def gives_probabilities(model, declared: str = "auto") -> bool:
    """Whether `model` outputs probabilities: as `declared` (`"logits"`,
    `"probabilities"`), or for `"auto"` as a tlkeras model says, else
    whether its last layer is a softmax."""
    if declared != "auto":
        return declared == "probabilities"
    if hasattr(model, "logits") and hasattr(model, "task"):
        return not model.logits  # a tlkeras TransferModel says
    activation = (
        getattr(model.layers[-1], "activation", None)
        if (getattr(model, "layers", None))
        else None
    )
    return activation is keras.activations.softmax


def as_logits(outputs, probabilities: bool):
    """Log-probabilities of probability outputs (logits up to a per-example
    constant, which softmax ignores); logits as they are."""
    if not probabilities:
        return outputs
    return ops.log(ops.clip(ops.cast(outputs, "float32"), _EPSILON, 1.0))
