"""The freeze-policy vocabulary, and the one parser every entry point uses.

A freeze policy says which base layers train; the head always does. The
same values are taken by `build_classifier(freeze=...)`,
`tlkeras.freezing.apply`, `tlkeras.recipes.fine_tune(freeze=...)`, the
schedules of `tlkeras.callbacks.ProgressiveUnfreezing` and the `freeze`
entry of `tlkeras.tuning.TransferHyperModel(search=...)`:

| form | what trains |
| --- | --- |
| `"base"` | the head only: the base is frozen |
| `"none"` | everything: nothing is frozen |
| `TrainTop(k)` | the `k` base groups nearest the head, and the head |
| `TrainGroups(["conv4", "conv5"])` | the named base groups, and the head |
| `UpTo("conv4_block6_out")` | the base layers after that layer |
| `FreezeIf(predicate)` or a callable | the base layers it returns False for |

Older spellings still work for one release and warn with the new one: a
bare int `k` (`TrainTop(k)`), `"all"` (`"none"`), a list of group names
(`TrainGroups([...])`).
"""

import dataclasses
import warnings
from typing import Callable
from typing import Sequence
from typing import Tuple
from typing import Union

import keras

from tlkeras._utils.close_matches import did_you_mean


class Policy:
    """A freeze policy: which base layers train (see the module docs)."""

    def trainable_layers(self, base_groups: Sequence) -> list:
        """The base layers that train under this policy, in model order.

        Args:
            base_groups: the model's `LayerGroup`s without the head.
        """
        raise NotImplementedError

    def prepare(self, model: keras.Model, base_groups: Sequence) -> None:
        """Change the model before its flags are set (`LoRA` adds its
        adapters here); most policies do nothing."""

    def __str__(self) -> str:
        return repr(self)

    def _label(self) -> str:
        """How the user spelled the policy, for messages."""
        return getattr(self, "_spelled", None) or repr(self)

    def _spelled_as(self, spelling: str) -> "Policy":
        object.__setattr__(self, "_spelled", spelling)
        return self


@dataclasses.dataclass(frozen=True)
class _Named(Policy):
    """`"base"` or `"none"`, parsed."""

    name: str

    def trainable_layers(self, base_groups):
        if self.name == "base":
            return []
        return [layer for g in base_groups for layer in g.layers]

    def __repr__(self):
        return repr(self.name)


@dataclasses.dataclass(frozen=True)
class TrainTop(Policy):
    """Train the `count` base groups nearest the head (and the head).

    `TrainTop(0)` is `"base"`; `TrainTop(len(groups))` is `"none"`.

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "resnet50", num_classes=2, input_shape=(32, 32, 3), weights=None,
    ...     freeze=tlk.freezing.TrainTop(2))
    >>> [g.name for g in tlk.layer_groups(model) if g.trainable]
    ['conv4', 'conv5', 'head']
    """

    count: int

    def __post_init__(self):
        if (
            not isinstance(self.count, int)
            or isinstance(self.count, bool)
            or self.count < 0
        ):
            raise ValueError(
                "TrainTop takes the number of base groups to train, an int "
                f">= 0. Received: count={self.count!r}"
            )

    def trainable_layers(self, base_groups):
        if self.count > len(base_groups):
            names = [g.name for g in base_groups]
            raise ValueError(
                f"{self._label()} asks for the top {self.count} base "
                f"groups, but the base has {len(base_groups)}: {names}. Use "
                f"a count from 0 to {len(base_groups)}."
            )
        chosen = base_groups[len(base_groups) - self.count :]
        return [layer for g in chosen for layer in g.layers]

    def __repr__(self):
        return f"TrainTop({self.count})"


@dataclasses.dataclass(frozen=True)
class TrainGroups(Policy):
    """Train the named base groups (and the head).

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "resnet50", num_classes=2, input_shape=(32, 32, 3), weights=None,
    ...     freeze=tlk.freezing.TrainGroups(["conv3", "conv5"]))
    >>> [g.name for g in tlk.layer_groups(model) if g.trainable]
    ['conv3', 'conv5', 'head']
    """

    names: Tuple[str, ...]

    def __init__(self, names: Union[str, Sequence[str]]):
        names = (names,) if isinstance(names, str) else tuple(names)
        if not all(isinstance(n, str) for n in names):
            raise TypeError(
                "TrainGroups takes group names (strings). Received: "
                f"names={names!r}"
            )
        object.__setattr__(self, "names", names)

    def trainable_layers(self, base_groups):
        known = [g.name for g in base_groups]
        unknown = [n for n in self.names if n not in known]
        if unknown:
            hints = "".join(did_you_mean(n, known) for n in unknown)
            raise ValueError(
                f"No base group named {unknown}. The base groups: {known} "
                f"(the head always trains).{hints}"
            )
        chosen = [g for g in base_groups if g.name in self.names]
        return [layer for g in chosen for layer in g.layers]

    def __repr__(self):
        return f"TrainGroups({list(self.names)!r})"


@dataclasses.dataclass(frozen=True)
class UpTo(Policy):
    """Freeze the base up to and including the layer `layer_name`; the base
    layers after it train.

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "resnet50", num_classes=2, input_shape=(32, 32, 3), weights=None,
    ...     freeze=tlk.freezing.UpTo("conv4_block6_out"))
    >>> [g.name for g in tlk.layer_groups(model) if g.trainable]
    ['conv5', 'head']
    """

    layer_name: str

    def trainable_layers(self, base_groups):
        layers = [layer for g in base_groups for layer in g.layers]
        names = [layer.name for layer in layers]
        if self.layer_name not in names:
            raise ValueError(
                f"No layer named {self.layer_name!r} in the base."
                f"{did_you_mean(self.layer_name, names)}"
            )
        return layers[names.index(self.layer_name) + 1 :]

    def __repr__(self):
        return f"UpTo({self.layer_name!r})"


@dataclasses.dataclass(frozen=True)
class FreezeIf(Policy):
    """Freeze the base layers for which `predicate(layer)` is True.

    A plain callable passed as a policy means the same.

    Example:

    >>> import tlkeras as tlk
    >>> policy = tlk.freezing.FreezeIf(lambda layer: "conv5" not in layer.name)
    """

    predicate: Callable[[keras.layers.Layer], bool]

    def trainable_layers(self, base_groups):
        return [
            layer
            for g in base_groups
            for layer in g.layers
            if not self.predicate(layer)
        ]

    def __repr__(self):
        name = getattr(self.predicate, "__name__", repr(self.predicate))
        return f"FreezeIf({name})"


PolicyLike = Union[str, Policy, Callable[[keras.layers.Layer], bool]]


def parse_policy(value: PolicyLike, argument: str = "freeze") -> Policy:
    """Read any spelling of a freeze policy into a `Policy`.

    Every entry point that takes a policy calls this, so the same forms
    work everywhere (see the module docs). Deprecated spellings warn with
    the new one; anything else raises, naming `argument` and the value.

    Args:
        value: the policy as the user wrote it.
        argument: the name to quote in messages. Defaults to `"freeze"`.

    Example:

    >>> parse_policy("base")
    'base'
    >>> parse_policy(TrainTop(2))
    TrainTop(2)
    """
    if isinstance(value, Policy):
        return value
    if isinstance(value, str):
        if value in ("base", "none"):
            return _Named(value)
        if value == "all":
            _deprecated(argument, value, '"none"')
            return _Named("none")
        raise ValueError(_message(argument, value))
    if isinstance(value, bool):
        raise TypeError(_message(argument, value))
    if isinstance(value, int):
        new = '"base"' if value == 0 else f"tlkeras.freezing.TrainTop({value})"
        _deprecated(argument, value, new)
        policy = TrainTop(value) if value >= 0 else None
        if policy is None:
            raise ValueError(_message(argument, value))
        return policy._spelled_as(f"{argument}={value!r}")
    if isinstance(value, (list, tuple)) and all(
        isinstance(n, str) for n in value
    ):
        _deprecated(
            argument, value, f"tlkeras.freezing.TrainGroups({list(value)!r})"
        )
        return TrainGroups(value)
    if callable(value):
        return FreezeIf(value)
    raise TypeError(_message(argument, value))


def _deprecated(argument, value, new):
    warnings.warn(
        f"{argument}={value!r} is deprecated and will be removed in tlkeras "
        f"0.3: write {argument}={new} (it says that the base groups train, "
        "not that they are frozen).",
        DeprecationWarning,
        stacklevel=4,
    )


def _message(argument, value):
    return (
        f"`{argument}` must be a freeze policy: 'base' (the base is frozen), "
        "'none' (everything trains), tlkeras.freezing.TrainTop(k), "
        "TrainGroups([names]), UpTo(layer_name), or FreezeIf(predicate) / a "
        f"callable layer -> bool (True freezes). Received: {argument}="
        f"{value!r}"
    )
