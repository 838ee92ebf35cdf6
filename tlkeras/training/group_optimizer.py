"""`GroupOptimizer`: one Keras optimizer per layer group, inside `fit`."""

from typing import Dict
from typing import Optional
from typing import Sequence

import keras
from keras import ops

from tlkeras._utils import keras_internals


@keras.saving.register_keras_serializable(package="tlkeras")
class GroupOptimizer(keras.optimizers.MultiOptimizer):
    """Keras's `MultiOptimizer`, keyed by layer group instead of regex.

    It subclasses `keras.optimizers.MultiOptimizer` rather than wrapping it
    so that everything Keras does with one keeps working: `.optimizers` for
    `ReduceLROnPlateau` and `LearningRateScheduler`, `LossScaleOptimizer`
    around it under mixed precision, `.keras` saving, `tf.distribute`. What
    it adds:

    - variables are assigned to groups by exact variable path, for every
      variable of the group, trainable now or not, so a group unfrozen
      mid-run finds its optimizer (and `tlkeras.training.rebuild_optimizer`
      gives it state without touching the other groups');
    - a variable that belongs to no group is an error listing all of them;
    - `global_clipnorm` clips by one norm over all groups' gradients;
    - `learning_rate` reads and sets the base rate: every group keeps its
      multiplier, so a schedule or callback acting on it keeps the spread;
    - groups in `untrained_groups` (a rate of 0) are left alone whatever
      their layers' `trainable` flags: no state, no update, and their
      gradients go unused, so the traced train step never computes them
      (TensorFlow prunes unused operations from a `tf.function`).

    Build it with `tlkeras.training.per_group` or
    `tlkeras.training.discriminative`.

    Args:
        group_optimizers: dict of group name to a Keras optimizer (one
            optimizer may serve several groups).
        variable_groups: dict of variable path to group name.
        multipliers: dict of group name to its learning-rate multiplier, or
            `None` when the groups' rates are not tied to a base rate.
            Defaults to `None`.
        global_clipnorm: float or `None`, clip all gradients together to
            this global norm. Defaults to `None`.
        untrained_groups: the names of the groups this optimizer never
            updates. Defaults to `()`.
        loss_scale_factor: as in Keras optimizers. Defaults to `None`.
        name: string. Defaults to `"group_optimizer"`.

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "resnet50", num_classes=2, input_shape=(32, 32, 3), weights=None,
    ...     freeze="none")
    >>> opt = tlk.training.discriminative(model, "adam", lr=(1e-5, 1e-3))
    >>> [round(float(o.learning_rate), 7) for o in opt.optimizers][:2]
    [1e-05, 2.51e-05]
    """

    def __init__(
        self,
        group_optimizers: Dict[str, keras.optimizers.Optimizer],
        variable_groups: Dict[str, str],
        *,
        multipliers: Optional[Dict[str, float]] = None,
        global_clipnorm: Optional[float] = None,
        untrained_groups: Sequence[str] = (),
        loss_scale_factor=None,
        name: str = "group_optimizer",
    ):
        group_map = _GroupMap(dict(group_optimizers), dict(variable_groups))
        super().__init__(
            group_map, loss_scale_factor=loss_scale_factor, name=name
        )
        self.group_optimizers = group_map.group_optimizers
        self.variable_groups = group_map.variable_groups
        self.multipliers = None if multipliers is None else dict(multipliers)
        self.global_clipnorm = global_clipnorm
        self.untrained_groups = sorted(untrained_groups)

    def updated_variables(self, var_list) -> list:
        """The variables of `var_list` this optimizer updates: all but
        those of its untrained groups."""
        skip = set(self.untrained_groups)
        return [
            v for v in var_list if self.variable_groups.get(v.path) not in skip
        ]

    def build(self, var_list):
        if self.built:
            return
        var_list = self.updated_variables(var_list)
        homeless = [
            v.path for v in var_list if v.path not in self.variable_groups
        ]
        if homeless:
            raise ValueError(
                f"{len(homeless)} trainable variables belong to no layer "
                f"group of this optimizer: {homeless}. Its groups: "
                f"{sorted(set(self.variable_groups.values()))}. Create the "
                "optimizer from the model you train."
            )
        orphans = sorted(
            {
                self.variable_groups[v.path]
                for v in var_list
                if self.variable_groups[v.path] not in self.group_optimizers
            }
        )
        if orphans:
            raise ValueError(
                f"The layer groups {orphans} have trainable variables but no "
                "optimizer. Give them one, or a `default`, in "
                "tlkeras.training.per_group."
            )
        super().build(var_list)

    def apply(self, grads, trainable_variables=None):
        if trainable_variables is not None and self.untrained_groups:
            kept = {id(v) for v in self.updated_variables(trainable_variables)}
            pairs = [
                (g, v)
                for g, v in zip(grads, trainable_variables)
                if id(v) in kept
            ]
            grads = [g for g, _ in pairs]
            trainable_variables = [v for _, v in pairs]
        if self.global_clipnorm:
            grads = _clip_by_global_norm(list(grads), self.global_clipnorm)
        return super().apply(grads, trainable_variables)

    def finalize_variable_values(self, var_list):
        super().finalize_variable_values(self.updated_variables(var_list))

    def group_learning_rates(self) -> Dict[str, float]:
        """The current learning rate of each group, as floats."""
        rates = {}
        for group, optimizer in self.group_optimizers.items():
            rate = keras_internals.current_learning_rate(optimizer)
            rates[group] = float(ops.convert_to_numpy(rate))
        return rates

    @property
    def learning_rate(self):
        group, multiplier = self._reference_group()
        return self.group_optimizers[group].learning_rate / multiplier

    @learning_rate.setter
    def learning_rate(self, value):
        if self.multipliers is None:
            self._reference_group()  # raises the explanation
        for group, multiplier in self.multipliers.items():
            if group in self.group_optimizers:
                self.group_optimizers[group].learning_rate = value * multiplier

    def _reference_group(self):
        if self.multipliers:
            # The group with the largest multiplier, the head usually.
            group = max(self.multipliers, key=self.multipliers.get)
            if self.multipliers[group] > 0:
                return group, self.multipliers[group]
        # Not an AttributeError: Keras's callbacks would read that as "no
        # learning_rate attribute" and say something else entirely.
        raise TypeError(
            "This GroupOptimizer's groups have independent learning rates "
            "(it was made by per_group with optimizers of different rates "
            "or schedules), so it has no single base rate to read or set. "
            "Set them on `optimizer.group_optimizers[name]`, or build it with "
            "tlkeras.training.discriminative, whose groups share a base rate."
        )

    def get_config(self):
        distinct = _distinct(self.group_optimizers.values())
        return {
            "optimizers": [keras.optimizers.serialize(opt) for opt in distinct],
            "group_optimizers": {
                group: distinct.index(opt)
                for group, opt in self.group_optimizers.items()
            },
            "variable_groups": self.variable_groups,
            "multipliers": self.multipliers,
            "global_clipnorm": self.global_clipnorm,
            "untrained_groups": list(self.untrained_groups),
            "loss_scale_factor": self.loss_scale_factor,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        optimizers = [
            keras.optimizers.deserialize(c, custom_objects=custom_objects)
            for c in config.pop("optimizers")
        ]
        config["group_optimizers"] = {
            group: optimizers[index]
            for group, index in config["group_optimizers"].items()
        }
        return cls(**config)


class _GroupMap:
    """The variable -> optimizer map `MultiOptimizer` asks for."""

    def __init__(self, group_optimizers, variable_groups):
        self.group_optimizers = group_optimizers
        self.variable_groups = variable_groups

    def __call__(self, variable):
        group = self.variable_groups[variable.path]
        return self.group_optimizers[group]

    def values(self):
        return _distinct(self.group_optimizers.values())


def _distinct(optimizers):
    result = []
    for optimizer in optimizers:
        if not any(optimizer is seen for seen in result):
            result.append(optimizer)
    return result


def _clip_by_global_norm(grads, clip_norm):
    present = [g for g in grads if g is not None]
    norm = ops.sqrt(sum(ops.sum(ops.square(g)) for g in present))
    scale = ops.minimum(1.0, clip_norm / ops.maximum(norm, 1e-12))
    return [None if g is None else g * ops.cast(scale, g.dtype) for g in grads]
