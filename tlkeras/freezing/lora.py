"""LoRA as a freeze policy: a frozen base with low-rank adapters.

`LoRA(rank, alpha)` freezes the base and calls Keras's own `enable_lora`
on its `Dense`, `EinsumDense`, `Embedding` and `Conv1D/2D/3D` layers, so
each adapted kernel computes `W + (alpha / rank) A B` with `W` frozen and
`A`, `B` trained. What tlkeras adds to Keras:

- the scale is `alpha / rank` as given: Keras's `Dense` and `Embedding`
  rebuild their adapters with `alpha = rank` when a model is loaded;
- adapted kernels (and, unless asked, biases) stay frozen whatever is
  unfrozen later: Keras's `trainable` setter would let them train again;
- a `.keras` file or checkpoint keeps `W`, `A` and `B` apart, so a loaded
  model trains its adapters on (Keras saves the merged kernel and zeroes
  both adapters on load, where no gradient can reach them again);
- `lora_report` says which layers got adapters and which could not
  (Keras has no LoRA for depthwise, separable or transposed convolutions).
"""

import dataclasses
import math
import types
from typing import Any
from typing import Callable
from typing import List
from typing import Optional
from typing import Sequence
from typing import Union

import keras

from tlkeras._utils import keras_internals
from tlkeras._utils.close_matches import did_you_mean
from tlkeras._utils.sizes import num_elements
from tlkeras.bases import HubBlock
from tlkeras.freezing.groups import split_head_groups
from tlkeras.freezing.policy import Policy

# What a layer with adapters remembers (and a TransferModel's config
# carries): the scale's numerator and whether its bias trains.
_SETTINGS = "_tlkeras_lora"
# The extra entries of an adapted layer's weights store, beside Keras's own
# "0", "1"... (which hold the merged kernel, so plain Keras loads it too).
_STORED = ("lora_frozen", "lora_kernel_a", "lora_kernel_b")

Targets = Union[None, str, Sequence[str], Callable[[keras.layers.Layer], bool]]


@dataclasses.dataclass(frozen=True)
class LoRA(Policy):
    """Freeze the base and train low-rank adapters on its kernels.

    Every targeted layer's kernel `W` becomes `W + (alpha / rank) A B`, with
    `W` frozen, `A` He-uniform and `B` zero at the start (so the model
    starts exactly as pretrained). The head trains in full. BatchNorm
    layers are frozen, as are the base's other layers. Built on Keras's
    `layer.enable_lora`.

    Args:
        rank: int, the adapters' rank. Defaults to `4`.
        alpha: float or `None`, the scale's numerator: adapters are scaled
            by `alpha / rank`. Defaults to `None`: `alpha = rank` (scale 1,
            PEFT's default ratio).
        targets: which base layers get adapters: `None` (every layer that
            can take them), group or layer names (a string or a list), or a
            callable `layer -> bool`. Defaults to `None`.
        train_bias: bool, train the adapted layers' biases too. Defaults to
            `False`.

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "mobilenet_v2", num_classes=2, input_shape=(32, 32, 3),
    ...     weights=None, base_kwargs={"alpha": 0.35},
    ...     freeze=tlk.freezing.LoRA(rank=4, targets=["top"]))
    >>> report = tlk.freezing.lora_report(model)
    >>> [row.layer for row in report.adapted]
    ['Conv_1']
    """

    rank: int = 4
    alpha: Optional[float] = None
    targets: Any = None
    train_bias: bool = False

    def __post_init__(self):
        if (
            not isinstance(self.rank, int)
            or isinstance(self.rank, bool)
            or self.rank < 1
        ):
            raise ValueError(
                f"LoRA's `rank` must be an int >= 1. Received: rank="
                f"{self.rank!r}"
            )
        if self.alpha is not None and not (
            isinstance(self.alpha, (int, float))
            and not isinstance(self.alpha, bool)
            and math.isfinite(self.alpha)
            and self.alpha > 0
        ):
            raise ValueError(
                "LoRA's `alpha` must be a positive number or None (= rank). "
                f"Received: alpha={self.alpha!r}"
            )
        if not isinstance(self.train_bias, bool):
            raise TypeError(
                f"LoRA's `train_bias` must be a bool. Received: train_bias="
                f"{self.train_bias!r}"
            )
        targets = self.targets
        if isinstance(targets, (list, tuple)):
            if not all(isinstance(t, str) for t in targets):
                raise TypeError(
                    "LoRA's `targets` must be None, group or layer names, or "
                    f"a callable layer -> bool. Received: targets={targets!r}"
                )
            object.__setattr__(self, "targets", tuple(targets))
        elif not (targets is None or isinstance(targets, str)) and not (
            callable(targets)
        ):
            raise TypeError(
                "LoRA's `targets` must be None, group or layer names, or a "
                f"callable layer -> bool. Received: targets={targets!r}"
            )

    @property
    def scale(self) -> float:
        """The adapters' scale, `alpha / rank`."""
        return (self.rank if self.alpha is None else self.alpha) / self.rank

    def trainable_layers(self, base_groups):
        return [row[1] for row in self._rows(base_groups) if row[2] is None]

    def prepare(self, model, base_groups):
        alpha = float(self.rank if self.alpha is None else self.alpha)
        for layer in self.trainable_layers(base_groups):
            if layer.lora_enabled:
                if layer.lora_rank != self.rank:
                    raise ValueError(
                        f"Layer {layer.name!r} already has rank "
                        f"{layer.lora_rank} adapters; Keras cannot change "
                        f"them to rank {self.rank}. Merge them first "
                        "(tlkeras.freezing.merge_lora)."
                    )
            else:
                layer.enable_lora(self.rank, lora_alpha=alpha)
            attach(layer, alpha, self.train_bias)

    def _rows(self, base_groups) -> list:
        """(group, layer, reason it gets no adapter or None) for every
        targeted base layer with a kernel."""
        rows = []
        for group in base_groups:
            for layer in group.layers:
                for sub in keras_internals.flatten_layers(layer):
                    if not _has_kernel(sub) or not self._targets(group, sub):
                        continue
                    reason = _unsupported(sub, layer)
                    rows.append((group.name, sub, reason))
        if isinstance(self.targets, (str, tuple)):
            self._check_names(base_groups, rows)
        return rows

    def _targets(self, group, layer) -> bool:
        targets = self.targets
        if targets is None:
            return True
        if callable(targets):
            return bool(targets(layer))
        names = (targets,) if isinstance(targets, str) else targets
        return group.name in names or layer.name in names

    def _check_names(self, base_groups, rows):
        names = (
            (self.targets,) if isinstance(self.targets, str) else (self.targets)
        )
        known = [g.name for g in base_groups] + [
            sub.name
            for g in base_groups
            for layer in g.layers
            for sub in keras_internals.flatten_layers(layer)
        ]
        for name in names:
            if name not in known:
                raise ValueError(
                    f"LoRA target {name!r} is neither a base group nor a base "
                    f"layer. The groups: {[g.name for g in base_groups]}."
                    f"{did_you_mean(name, known)}"
                )
        for _, layer, reason in rows:
            if layer.name in names and reason is not None:
                raise ValueError(
                    f"LoRA cannot adapt layer {layer.name!r}: {reason}. "
                    "Target Dense, EinsumDense, Embedding or Conv1D/2D/3D "
                    "layers, or groups."
                )

    def __repr__(self):
        fields = [f"rank={self.rank}"]
        if self.alpha is not None:
            fields.append(f"alpha={self.alpha}")
        if self.targets is not None:
            name = getattr(self.targets, "__name__", None)
            fields.append(f"targets={name or self.targets!r}")
        if self.train_bias:
            fields.append("train_bias=True")
        return f"LoRA({', '.join(fields)})"


def _has_kernel(layer) -> bool:
    return any(
        "kernel" in v.name or "embeddings" in v.name
        for v in keras_internals.own_variables(layer)
        if not v.name.startswith("lora_")
    )


def _unsupported(layer, group_layer) -> Optional[str]:
    if layer is not group_layer:
        return (
            f"it sits inside {group_layer.name!r}, which freezes and trains "
            "as a whole"
        )
    if not hasattr(layer, "enable_lora"):
        return f"Keras has no LoRA for {type(layer).__name__} layers"
    if getattr(layer, "kernel_constraint", None) is not None:
        return "Keras's LoRA refuses layers with a kernel constraint"
    if getattr(layer, "quantization_mode", None):
        return "the layer is quantized"
    return None


def attach(layer: keras.layers.Layer, alpha: float, train_bias: bool) -> None:
    """Make `layer`'s adapters tlkeras's: the scale `alpha / rank`, the
    adapters saved apart from the kernel, the kernel (and bias) frozen.

    Called by `LoRA` and, on a loaded model, by `TransferModel` (Keras has
    rebuilt the adapters by then, with the wrong scale and zeros).
    """
    layer.lora_alpha = alpha
    object.__setattr__(
        layer, _SETTINGS, {"alpha": alpha, "train_bias": train_bias}
    )
    # Instance attributes win over the class's methods, so Keras's saving,
    # which calls `layer.save_own_variables(store)`, writes ours.
    object.__setattr__(
        layer, "save_own_variables", types.MethodType(_save, layer)
    )
    object.__setattr__(
        layer, "load_own_variables", types.MethodType(_load, layer)
    )
    lock(layer)


def lock(layer: keras.layers.Layer) -> None:
    """Freeze an adapted layer's kernel (and its bias unless it trains):
    Keras's `trainable` setter unfreezes them with the layer."""
    settings = getattr(layer, _SETTINGS, None)
    if settings is None:
        return
    keras_internals.lora_frozen_variable(layer).trainable = False
    bias = getattr(layer, "bias", None)
    if bias is not None:
        bias.trainable = settings["train_bias"] and layer.trainable


def lock_all(model: keras.layers.Layer) -> None:
    """`lock` every adapted layer of `model`."""
    for layer in keras_internals.flatten_layers(model):
        lock(layer)


def _save(layer, store):
    # Keras writes the merged kernel as "0": a plain Keras model loads it.
    type(layer).save_own_variables(layer, store)
    if layer.built and layer.lora_enabled:
        frozen = keras_internals.lora_frozen_variable(layer)
        for key, variable in zip(
            _STORED, (frozen, *keras_internals.lora_adapters(layer))
        ):
            store[key] = variable


def _load(layer, store):
    type(layer).load_own_variables(layer, store)
    if layer.built and layer.lora_enabled and _STORED[0] in store.keys():
        frozen = keras_internals.lora_frozen_variable(layer)
        for key, variable in zip(
            _STORED, (frozen, *keras_internals.lora_adapters(layer))
        ):
            variable.assign(store[key])


def settings(model: keras.Model) -> Optional[list]:
    """`[layer index, alpha, train_bias]` for each adapted layer of
    `model` (indices into its flattened layers), or `None`: what a
    `TransferModel` saves in its config."""
    rows = [
        [i, s["alpha"], s["train_bias"]]
        for i, layer in enumerate(keras_internals.flatten_layers(model))
        for s in [getattr(layer, _SETTINGS, None)]
        if s is not None
    ]
    return rows or None


def restore(model: keras.Model, rows: Sequence) -> None:
    """Re-attach the adapters `settings` described, on a model rebuilt from
    its config."""
    layers = keras_internals.flatten_layers(model)
    for index, alpha, train_bias in rows:
        layer = layers[int(index)]
        if not getattr(layer, "lora_enabled", False):
            raise ValueError(
                f"The config says layer {layer.name!r} has LoRA adapters, "
                "but it was rebuilt without them: the config does not match "
                "the model."
            )
        attach(layer, float(alpha), bool(train_bias))


def lora_variables(layer: keras.layers.Layer) -> list:
    """The LoRA adapters (`A`, `B`) of `layer` and its sublayers.

    Example:

    >>> lora_variables(keras.layers.Dense(2))
    []
    """
    return [
        v
        for sub in keras_internals.flatten_layers(layer)
        if getattr(sub, "lora_enabled", False)
        for v in keras_internals.lora_adapters(sub)
    ]


def has_lora(model: keras.layers.Layer) -> bool:
    """Whether any layer of `model` has LoRA adapters.

    Example:

    >>> has_lora(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
    False
    """
    return bool(lora_variables(model))


@dataclasses.dataclass
class LoRARow:
    """One base layer in a `LoRAReport`."""

    group: str
    layer: str
    type: str
    rank: Optional[int] = None
    scale: Optional[float] = None
    params: int = 0
    reason: Optional[str] = None


@dataclasses.dataclass
class LoRAReport:
    """Which base layers have LoRA adapters and which could not get them.

    Attributes:
        adapted: `LoRARow`s of the layers with adapters (rank, scale and
            adapter parameters).
        skipped: `LoRARow`s of the base layers with a kernel that have no
            adapter, with the reason.
    """

    adapted: List[LoRARow]
    skipped: List[LoRARow]

    @property
    def params(self) -> int:
        """The number of adapter parameters."""
        return sum(row.params for row in self.adapted)

    def __str__(self) -> str:
        lines = [
            f"{len(self.adapted)} layers with LoRA adapters "
            f"({self.params:,} parameters):"
        ]
        lines += [
            f"  {r.group:<10} {r.layer:<32} {r.type:<14} rank {r.rank}, "
            f"scale {r.scale:g}, {r.params:,} parameters"
            for r in self.adapted
        ]
        if self.skipped:
            lines.append(f"{len(self.skipped)} layers without adapters:")
            lines += [
                f"  {r.group:<10} {r.layer:<32} {r.type:<14} {r.reason}"
                for r in self.skipped
            ]
        return "\n".join(lines)


def lora_report(model: keras.Model) -> LoRAReport:
    """Which base layers of `model` have LoRA adapters, and why the others
    with a kernel have none (Keras has no LoRA for depthwise, separable or
    transposed convolutions; a TF-Hub module's variables are not layers).

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "mobilenet_v2", num_classes=2, input_shape=(32, 32, 3),
    ...     weights=None, base_kwargs={"alpha": 0.35},
    ...     freeze=tlk.freezing.LoRA(rank=2))
    >>> report = tlk.freezing.lora_report(model)
    >>> len(report.adapted), report.skipped[0].type
    (35, 'DepthwiseConv2D')
    """
    adapted, skipped = [], []
    for group in split_head_groups(model)[0]:
        for layer in group.layers:
            for sub in keras_internals.flatten_layers(layer):
                row = LoRARow(group.name, sub.name, type(sub).__name__)
                if getattr(sub, "lora_enabled", False):
                    row.rank = sub.lora_rank
                    row.scale = sub.lora_alpha / sub.lora_rank
                    row.params = sum(
                        num_elements(v) for v in lora_variables(sub)
                    )
                    adapted.append(row)
                elif isinstance(sub, HubBlock) and sub.weights:
                    row.reason = (
                        "a TF-Hub module's variables are not Keras layers"
                    )
                    skipped.append(row)
                elif _has_kernel(sub):
                    row.reason = _unsupported(sub, layer) or "not targeted"
                    skipped.append(row)
    return LoRAReport(adapted, skipped)
