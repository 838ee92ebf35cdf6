"""The head layer: pooling, an optional MLP, and the output layer."""

from typing import Optional
from typing import Sequence

import keras

_POOLING = ("avg", "max", "flatten", None)
_POOL_LAYERS = {
    ("avg", 3): keras.layers.GlobalAveragePooling1D,
    ("max", 3): keras.layers.GlobalMaxPooling1D,
    ("avg", 4): keras.layers.GlobalAveragePooling2D,
    ("max", 4): keras.layers.GlobalMaxPooling2D,
    ("avg", 5): keras.layers.GlobalAveragePooling3D,
    ("max", 5): keras.layers.GlobalMaxPooling3D,
}


class _Holder:
    """A plain attribute Keras does not track."""

    function = None


@keras.saving.register_keras_serializable(package="tlkeras")
class Head(keras.layers.Layer):
    """A transfer-learning head: pooling, hidden layers, output.

    Pooling is applied only where the base's output needs it: a feature map
    (rank 3 to 5) is pooled, a feature vector (rank 2) goes straight to the
    dense layers. Each hidden layer is `Dense` (with L1/L2 on its kernel),
    optional `BatchNormalization`, the activation and `Dropout`; dropout is
    also applied before the output layer. The output activation runs in
    float32 so the head stays numerically safe under mixed precision.

    A head made without `num_outputs` is a template: the builders complete it
    with the number of classes and the output activation of the task.

    Args:
        units: sequence of ints, the sizes of the hidden layers. `()` makes a
            linear probe. Defaults to `()`.
        activation: string or callable, the hidden activation. Defaults to
            `"relu"`.
        dropout: float in [0, 1), the dropout rate before each dense layer.
            Defaults to `0.0`.
        l1: float, L1 penalty on the dense kernels. Defaults to `0.0`.
        l2: float, L2 penalty on the dense kernels. Defaults to `0.0`.
        batch_norm: bool, batch normalisation after each hidden dense layer.
            Defaults to `False`.
        pooling: `"avg"`, `"max"`, `"flatten"` or `None` (the base's output
            must then be a vector). Defaults to `"avg"`.
        num_outputs: int or `None`, the size of the output layer; `None`
            makes a feature head (pooling and hidden layers only). Defaults to
            `None`.
        output_activation: string or `None`, e.g. `"softmax"`, `"sigmoid"`,
            or `None` for logits or regression. Defaults to `None`.

    Example:

    >>> head = Head(units=(16,), dropout=0.2, num_outputs=3,
    ...             output_activation="softmax")
    >>> tuple(head(keras.ops.ones((2, 4, 4, 8))).shape)
    (2, 3)
    """

    def __init__(
        self,
        units: Sequence[int] = (),
        *,
        activation="relu",
        dropout: float = 0.0,
        l1: float = 0.0,
        l2: float = 0.0,
        batch_norm: bool = False,
        pooling: Optional[str] = "avg",
        num_outputs: Optional[int] = None,
        output_activation: Optional[str] = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        units = tuple(units)
        if not all(isinstance(u, int) and u > 0 for u in units):
            raise ValueError(
                "`units` must be a sequence of positive ints. Received: "
                f"units={units!r}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(
                f"`dropout` must be in [0, 1). Received: dropout={dropout!r}"
            )
        if l1 < 0 or l2 < 0:
            raise ValueError(
                f"`l1` and `l2` must be >= 0. Received: l1={l1!r}, l2={l2!r}"
            )
        if pooling not in _POOLING:
            raise ValueError(
                f"`pooling` must be one of {_POOLING}. Received: "
                f"pooling={pooling!r}"
            )
        if num_outputs is not None and (
            not isinstance(num_outputs, int) or num_outputs < 1
        ):
            raise ValueError(
                "`num_outputs` must be a positive int or None. Received: "
                f"num_outputs={num_outputs!r}"
            )
        self.units = units
        self.activation = activation
        self.dropout = dropout
        self.l1 = l1
        self.l2 = l2
        self.batch_norm = batch_norm
        self.pooling = pooling
        self.num_outputs = num_outputs
        self.output_activation = output_activation

        # === Layers ===
        regularizer = keras.regularizers.L1L2(l1, l2) if l1 or l2 else None
        self.pool = None
        # Out of Keras's tracking: the penalty is the model's, not a layer
        # of this head.
        self._feature_penalty = _Holder()
        self.hidden = []
        for i, size in enumerate(units):
            block = [
                keras.layers.Dense(
                    size,
                    use_bias=not batch_norm,
                    kernel_regularizer=regularizer,
                    name=f"dense_{i}",
                )
            ]
            if batch_norm:
                block.append(keras.layers.BatchNormalization(name=f"bn_{i}"))
            block.append(keras.layers.Activation(activation, name=f"act_{i}"))
            if dropout:
                block.append(keras.layers.Dropout(dropout, name=f"drop_{i}"))
            self.hidden.extend(block)
        self.output_layers = []
        if num_outputs is not None:
            if dropout:
                self.output_layers.append(
                    keras.layers.Dropout(dropout, name="output_dropout")
                )
            self.output_layers.append(
                keras.layers.Dense(
                    num_outputs, kernel_regularizer=regularizer, name="output"
                )
            )
            self.output_layers.append(
                keras.layers.Activation(
                    output_activation, dtype="float32", name="predictions"
                )
            )

    def with_outputs(
        self, num_outputs: int, output_activation=None, *, name="head"
    ) -> "Head":
        """A copy of this head template with its output layer set.

        Example:

        >>> Head(units=(8,)).with_outputs(3, "softmax").num_outputs
        3
        """
        config = self.get_config()
        if config["num_outputs"] not in (None, num_outputs):
            raise ValueError(
                f"This head was made with num_outputs={config['num_outputs']},"
                f" but the model needs {num_outputs}. Leave `num_outputs` "
                "unset in heads passed to the builders."
            )
        config.update(
            num_outputs=num_outputs,
            output_activation=output_activation,
            name=name,
        )
        return self.__class__.from_config(config)

    def _pool_layer(self, rank):
        if rank == 2:
            return None
        if self.pooling is None:
            raise ValueError(
                f"The base's output has rank {rank}; a head with pooling=None "
                "needs a vector (rank 2). Use pooling='avg', 'max' or "
                "'flatten'."
            )
        if self.pooling == "flatten":
            return keras.layers.Flatten(name="pool")
        try:
            return _POOL_LAYERS[(self.pooling, rank)](name="pool")
        except KeyError:
            raise ValueError(
                f"Cannot pool an output of rank {rank}; heads pool ranks 3 "
                "to 5."
            ) from None

    def build(self, input_shape):
        self.pool = self._pool_layer(len(input_shape))
        shape = tuple(input_shape)
        for layer in self._layers_in_order():
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.built = True

    def _layers_in_order(self):
        pool = [self.pool] if self.pool is not None else []
        return pool + self.hidden + self.output_layers

    def pool_features(self, features):
        """The head's pooling alone (no weights): what the trainable layers
        see. Cached-feature training stores this, which is much smaller
        than the base's feature map.

        Example:

        >>> head = Linear().with_outputs(2)
        >>> _ = head(keras.ops.ones((1, 3, 3, 4)))
        >>> tuple(head.pool_features(keras.ops.ones((1, 3, 3, 4))).shape)
        (1, 4)
        """
        return features if self.pool is None else self.pool(features)

    def call_pooled(self, pooled, training=None):
        """The head on already pooled features (`pool_features`)."""
        penalty = self._feature_penalty.function
        if training and penalty is not None:
            # A penalty on the features the head sees (batch spectral
            # shrinkage), in the training loss as Keras's `add_loss`.
            self.add_loss(penalty(pooled))
        hidden = self.hidden_features(pooled, training=training)
        return self.outputs_from_hidden(hidden, training=training)

    def hidden_features(self, pooled, training=None):
        """The hidden layers' output on pooled features (the pooled
        features themselves for a linear head): the head's bottleneck."""
        return self._apply(pooled, self.hidden, training)

    def outputs_from_hidden(self, hidden, training=None):
        """The output layers on `hidden_features`."""
        return self._apply(hidden, self.output_layers, training)

    def call(self, inputs, training=None):
        return self.call_pooled(self.pool_features(inputs), training=training)

    def penalize_features(self, function) -> None:
        """Add `function(pooled features)` to the training loss (`None`
        removes it); `tlkeras.regularizers.BSS` calls this."""
        self._feature_penalty.function = function

    @staticmethod
    def _apply(inputs, layers, training):
        x = inputs
        for layer in layers:
            if isinstance(
                layer, (keras.layers.Dropout, keras.layers.BatchNormalization)
            ):
                x = layer(x, training=training)
            else:
                x = layer(x)
        return x

    def compute_output_spec(self, inputs, training=None):
        # Keras would give the symbolic output this layer's compute dtype
        # (float16 under mixed precision), but the output activation runs
        # in float32: say what `call` returns.
        last = self.output_layers[-1] if self.output_layers else self
        return keras.KerasTensor(
            self.compute_output_shape(inputs.shape), dtype=last.compute_dtype
        )

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) > 2:
            if self.pooling == "flatten":
                size = 1
                for dim in shape[1:]:
                    size = None if dim is None or size is None else size * dim
                shape = (shape[0], size)
            else:
                shape = (shape[0], shape[-1])
        if self.num_outputs is not None:
            return (shape[0], self.num_outputs)
        if self.units:
            return (shape[0], self.units[-1])
        return shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": list(self.units),
                "activation": self.activation
                if isinstance(self.activation, str)
                else keras.activations.serialize(self.activation),
                "dropout": self.dropout,
                "l1": self.l1,
                "l2": self.l2,
                "batch_norm": self.batch_norm,
                "pooling": self.pooling,
                "num_outputs": self.num_outputs,
                "output_activation": self.output_activation,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="tlkeras")
class Linear(Head):
    """A linear probe: pooling, optional dropout, one dense output layer.

    Args:
        dropout: float in [0, 1), dropout before the output layer. Defaults
            to `0.0`.
        pooling: `"avg"`, `"max"`, `"flatten"` or `None`. Defaults to
            `"avg"`.
        l2: float, L2 penalty on the kernel. Defaults to `0.0`.

    Example:

    >>> head = Linear().with_outputs(5, "softmax")
    >>> tuple(head(keras.ops.ones((2, 3, 3, 4))).shape)
    (2, 5)
    """

    def __init__(self, *, dropout=0.0, pooling="avg", l2=0.0, **kwargs):
        kwargs.pop("units", None)
        super().__init__((), dropout=dropout, pooling=pooling, l2=l2, **kwargs)

    def get_config(self):
        config = super().get_config()
        for key in ("units", "activation", "batch_norm", "l1"):
            config.pop(key)
        return config


@keras.saving.register_keras_serializable(package="tlkeras")
class MLP(Head):
    """A multi-layer head: pooling, hidden dense layers, output.

    Args: as `Head`; `units` defaults to `(256,)`.

    Example:

    >>> head = MLP(units=(32,), dropout=0.3, l2=1e-4).with_outputs(2)
    >>> tuple(head(keras.ops.ones((2, 8))).shape)
    (2, 2)
    """

    def __init__(self, units=(256,), **kwargs):
        super().__init__(units, **kwargs)
