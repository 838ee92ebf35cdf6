"""`MultiHead`: several named heads on the same features."""

from typing import Dict

import keras

from tlkeras.heads.head import Head


@keras.saving.register_keras_serializable(package="tlkeras")
class MultiHead(keras.layers.Layer):
    """Named heads side by side on one base's features; returns a dict of
    their outputs, keyed by name.

    `tlkeras.build_multitask` makes these. Each head is its own layer
    group (named after it), so freeze policies, discriminative rates and
    unfreezing treat the heads one by one.

    Args:
        heads: dict of name to `tlkeras.heads.Head` (with its outputs set).

    Example:

    >>> from tlkeras.heads import Linear
    >>> multi = MultiHead({"kind": Linear().with_outputs(3, "softmax"),
    ...                    "size": Linear().with_outputs(1)})
    >>> outputs = multi(keras.ops.ones((2, 4, 4, 8)))
    >>> {name: tuple(y.shape) for name, y in outputs.items()}
    {'kind': (2, 3), 'size': (2, 1)}
    """

    def __init__(self, heads: Dict[str, Head], **kwargs):
        super().__init__(**kwargs)
        if not isinstance(heads, dict) or not heads:
            raise ValueError(
                "MultiHead needs a non-empty dict of name to head. "
                f"Received: heads={heads!r}"
            )
        # Each head is named after its key: the outputs and groups are too.
        self.heads = {
            name: head
            if head.name == name
            else head.__class__.from_config({**head.get_config(), "name": name})
            for name, head in heads.items()
        }

    def build(self, input_shape):
        for head in self.heads.values():
            if not head.built:  # loaded heads come built from their config
                head.build(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        return {
            name: head(inputs, training=training)
            for name, head in self.heads.items()
        }

    def compute_output_spec(self, inputs, training=None):
        return {
            name: head.compute_output_spec(inputs)
            for name, head in self.heads.items()
        }

    def penalize_features(self, function) -> None:
        """Add `function(pooled features)` to the training loss once (the
        heads share their features); `tlkeras.regularizers.BSS` calls
        this."""
        first, *others = self.heads.values()
        first.penalize_features(function)
        for head in others:
            head.penalize_features(None)

    def get_config(self):
        config = super().get_config()
        config["heads"] = {
            name: keras.layers.serialize(head)
            for name, head in self.heads.items()
        }
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["heads"] = {
            name: keras.layers.deserialize(head)
            for name, head in config["heads"].items()
        }
        return cls(**config)
