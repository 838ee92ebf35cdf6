"""L2-SP: fine-tuning pulled toward the pretrained weights (Li et al. 2018,
"Explicit Inductive Bias for Transfer Learning with Convolutional
Networks")."""

import keras
from keras import ops

from tlkeras._utils import keras_internals


def check_weight(name: str, value) -> None:
    """Raise a `ValueError` naming `name` unless `value` is a float >= 0."""
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not value >= 0
    ):
        raise ValueError(
            f"`{name}` must be a float >= 0. Received: {name}={value!r}"
        )


def _weights(layer) -> list:
    """The variables `layer` and its sublayers created to train (kernels,
    biases, BN's gamma and beta; not BN's moving statistics), whether or
    not they train now."""
    seen, weights = set(), []
    for sublayer in keras_internals.flatten_layers(layer):
        for variable in keras_internals.own_trainable_variables(sublayer):
            if id(variable) not in seen:
                seen.add(id(variable))
                weights.append(variable)
    return weights


class _Untracked:
    """Plain attributes, out of Keras's sight."""

    anchored: list = []
    head: list = []


@keras.saving.register_keras_serializable(package="tlkeras")
class L2SP(keras.layers.Layer):
    """The L2-SP penalty of a `tlkeras.TransferModel`.

    `alpha / 2 * sum ||w - w0||^2` over the base's weights that train now
    (`w0`: their values when the model was built: the pretrained ones;
    BatchNormalization's moving statistics are not weights and are left
    out), plus `beta / 2 * sum ||w||^2` over the head's weights, which have
    no pretrained values. TLlib's defaults: `alpha = beta = 0.01`, with no
    weight decay in the optimizer.

    Give it to a builder (`build_classifier(..., regularization=L2SP())`);
    the model adds the penalty to its training loss. The pretrained values
    are variables of this layer, saved in the model's `.keras` file, so a
    resumed run pulls toward the same point. It follows unfreezing: the sum
    runs over the base weights trainable when `fit` traces its step, so a
    group unfrozen mid-fit (`ProgressiveUnfreezing`) is pulled toward its
    own pretrained values from then on.

    Args:
        alpha: float >= 0, the weight of the distance to the pretrained
            base. Defaults to `0.01`.
        beta: float >= 0, the weight of the head's L2. Defaults to `0.01`.

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)]), 2,
    ...     freeze="none", regularization=tlk.regularizers.L2SP())
    >>> float(model.regularization.penalty(model)) > 0  # the head's L2
    True
    """

    def __init__(self, alpha: float = 0.01, beta: float = 0.01, **kwargs):
        super().__init__(**kwargs)
        check_weight("alpha", alpha)
        check_weight("beta", beta)
        self.alpha = float(alpha)
        self.beta = float(beta)
        # The model's variables, held where Keras does not track them (a
        # list attribute would make them this layer's own).
        self._model_variables = _Untracked()
        self.anchors = []

    def attach(self, model: keras.Model) -> None:
        """Record the current values of `model`'s base weights as the
        point to pull toward (the builders call this once)."""
        self._model_variables.anchored = _weights(model.base)
        self._model_variables.head = _weights(model.head)
        self.anchors = []
        for i, variable in enumerate(self._model_variables.anchored):
            anchor = self.add_weight(
                shape=variable.shape,
                initializer="zeros",
                dtype=variable.dtype,
                trainable=False,
                name=f"pretrained_{i}",
            )
            anchor.assign(variable)
            self.anchors.append(anchor)
        self.built = True

    def penalty(self, model: keras.Model):
        """The penalty now, over what trains now."""
        training = {id(v) for v in model.trainable_variables}
        total = ops.zeros(())
        if self.alpha:
            pairs = zip(self._model_variables.anchored, self.anchors)
            for variable, anchor in pairs:
                if id(variable) in training:
                    difference = ops.cast(variable - anchor, "float32")
                    total += self.alpha / 2 * ops.sum(difference**2)
        if self.beta:
            for variable in self._model_variables.head:
                if id(variable) in training:
                    value = ops.cast(variable, "float32")
                    total += self.beta / 2 * ops.sum(value**2)
        return total

    def call(self, inputs):  # pragma: no cover - not a layer of the graph
        return inputs

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "beta": self.beta}
