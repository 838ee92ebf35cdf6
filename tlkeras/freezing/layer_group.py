"""`LayerGroup`: a named, contiguous set of layers of a model."""

import dataclasses
from typing import List

import keras

from tlkeras._utils.sizes import num_elements


@dataclasses.dataclass(eq=False)
class LayerGroup:
    """Layers that train, freeze and get a learning rate together.

    Attributes:
        name: the group's unique name (`"stem"`, `"conv3"`, `"head"`...).
        layers: the layers, in model order.
        model: the model the group belongs to; trainability is read through
            it, so a layer inside a frozen container counts as frozen.

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "mobilenet_v2", num_classes=2, input_shape=(32, 32, 3),
    ...     weights=None, base_kwargs={"alpha": 0.35})
    >>> group = tlk.layer_groups(model)[-1]
    >>> group.name, len(group.trainable_variables)
    ('head', 2)
    """

    name: str
    layers: List[keras.layers.Layer]
    model: keras.Model = dataclasses.field(repr=False)

    @property
    def variables(self) -> list:
        """Every variable of the group's layers (no duplicates)."""
        seen, result = set(), []
        for layer in self.layers:
            for variable in layer.weights:
                if id(variable) not in seen:
                    seen.add(id(variable))
                    result.append(variable)
        return result

    @property
    def trainable_variables(self) -> list:
        """The group's variables the model trains now."""
        trainable = {id(v) for v in self.model.trainable_variables}
        return [v for v in self.variables if id(v) in trainable]

    @property
    def non_trainable_variables(self) -> list:
        """The group's variables the model does not train now."""
        trainable = {id(v) for v in self.trainable_variables}
        return [v for v in self.variables if id(v) not in trainable]

    @property
    def trainable(self) -> bool:
        """Whether any variable of the group is trained now."""
        return bool(self.trainable_variables)

    def count_params(self) -> int:
        """The number of scalars in the group's variables."""
        return sum(num_elements(v) for v in self.variables)
