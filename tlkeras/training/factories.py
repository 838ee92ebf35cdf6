"""`per_group` and `discriminative`: build a `GroupOptimizer` for a model."""

import copy
import math
from typing import Mapping
from typing import Optional
from typing import Sequence
from typing import Union

import keras

from tlkeras import freezing
from tlkeras._utils import keras_internals
from tlkeras.training.group_optimizer import GroupOptimizer
from tlkeras.training.scaled_schedule import ScaledSchedule
from tlkeras.training.spreads import geometric_spread
from tlkeras.training.spreads import layer_decay

Schedule = keras.optimizers.schedules.LearningRateSchedule


def per_group(
    model: keras.Model,
    optimizers: Union[Mapping, Sequence],
    default: Optional[keras.optimizers.Optimizer] = None,
    *,
    global_clipnorm: Optional[float] = None,
) -> GroupOptimizer:
    """One optimizer per layer group of `model`, for `model.compile`.

    Args:
        model: the model you will train; its groups are
            `tlkeras.layer_groups(model)`.
        optimizers: a dict of group name to optimizer, or a list with one
            optimizer per group (input side first, head last).
        default: optimizer for the groups the dict does not name. Defaults
            to `None`: every group with trainable variables must be named.
        global_clipnorm: float, clip the gradients of all groups together to
            this global norm. Defaults to `None`.

    Returns:
        A `tlkeras.training.GroupOptimizer`.

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "resnet50", num_classes=2, input_shape=(32, 32, 3), weights=None,
    ...     freeze=tlk.freezing.TrainTop(1))
    >>> model.compile(optimizer=tlk.training.per_group(model, {
    ...     "conv5": keras.optimizers.SGD(1e-4, momentum=0.9),
    ...     "head": keras.optimizers.Adam(1e-3)}))
    """
    groups = freezing.layer_groups(model)
    names = [g.name for g in groups]
    if isinstance(optimizers, Mapping):
        unknown = [name for name in optimizers if name not in names]
        if unknown:
            raise ValueError(
                f"No layer group named {unknown} in this model. Its groups: "
                f"{names}."
            )
        chosen = {name: optimizers.get(name, default) for name in names}
    else:
        optimizers = list(optimizers)
        if len(optimizers) != len(names):
            raise ValueError(
                f"`optimizers` has {len(optimizers)} entries but the model "
                f"has {len(names)} groups: {names}."
            )
        chosen = dict(zip(names, optimizers))
    for name, optimizer in chosen.items():
        if optimizer is not None and not isinstance(
            optimizer, keras.optimizers.Optimizer
        ):
            raise TypeError(
                f"The optimizer for group {name!r} must be a Keras optimizer."
                f" Received: optimizers[{name!r}]={optimizer!r}"
            )
    chosen = {name: opt for name, opt in chosen.items() if opt is not None}
    _check_covered(groups, chosen)
    inner_clipnorm = _take_global_clipnorm(chosen)
    return GroupOptimizer(
        chosen,
        _variable_groups(groups),
        multipliers=_multipliers_of(chosen),
        global_clipnorm=global_clipnorm or inner_clipnorm,
    )


def discriminative(
    model: keras.Model,
    optimizer="adam",
    lr=1e-3,
    decay: Optional[float] = None,
    **optimizer_kwargs,
) -> GroupOptimizer:
    """Discriminative learning rates: slow near the input, fast at the head.

    Every group gets the same kind of optimizer; group `i`'s rate is the
    base rate times its multiplier, so schedules, `ReduceLROnPlateau` and
    `optimizer.learning_rate = ...` keep the ratios between groups.

    `lr` takes these forms:

    - `(low, high)`: rates spread geometrically from `low` (first group) to
      `high` (the head), group `i` of `n` at
      `low * (high / low) ** (i / (n - 1))` (every head of a multi-task
      model at `high`) — fastai's `slice(low, high)`
      (`even_mults` in `fastai/torch_core.py`, applied by
      `Learner.fit`/`set_hyper`, checked against its source).
    - a list with one rate per group.
    - one rate or a `keras.optimizers.schedules` schedule for the head:
      with `decay=d`, group at depth `k` from the head gets `lr * d ** k`
      (timm's `param_groups_layer_decay`, layer-wise decay); without
      `decay`, every other group gets `lr / 10` (fastai's `slice(lr)`).

    A rate of 0 leaves the group out of the optimizer (timm's
    `no_opt_scale`): it gets no state and no update, and the traced train
    step never computes its gradients. The model is not changed: building
    an optimizer never touches a `trainable` flag (freeze with
    `tlkeras.freezing` for that, which also stops BN statistics).

    Args:
        model: the model you will train.
        optimizer: a name (`"adam"`), an optimizer class, an optimizer whose
            config serves as a template, or a callable
            `learning_rate -> optimizer`. Defaults to `"adam"`.
        lr: the rates, as above. Defaults to `1e-3`.
        decay: float in (0, 1], the layer-wise decay. Defaults to `None`.
        **optimizer_kwargs: passed to the optimizer (e.g. `weight_decay`,
            `momentum`, `global_clipnorm`: the latter clips all groups
            together).

    Returns:
        A `tlkeras.training.GroupOptimizer`.

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "resnet50", num_classes=2, input_shape=(32, 32, 3), weights=None,
    ...     freeze="none")
    >>> opt = tlk.training.discriminative(model, "adam", lr=1e-3, decay=0.5)
    >>> [round(m, 4) for m in opt.multipliers.values()]
    [0.0312, 0.0625, 0.125, 0.25, 0.5, 1.0]
    """
    groups = freezing.layer_groups(model)
    names = [g.name for g in groups]
    base_groups, heads = freezing.split_head_groups(model)
    if isinstance(lr, list) or len(heads) == 1:
        base, multipliers = _spread(lr, decay, names)
    else:
        # The heads of a multi-task model sit side by side at the top:
        # each gets the head's rate.
        spread = [g.name for g in base_groups] + ["head"]
        base, multipliers = _spread(lr, decay, spread)
        multipliers = multipliers[:-1] + multipliers[-1:] * len(heads)
    zero = [name for name, m in zip(names, multipliers) if m == 0]
    make = _optimizer_factory(optimizer, optimizer_kwargs)
    chosen = {}
    for name, multiplier in zip(names, multipliers):
        if multiplier == 0:
            continue
        if isinstance(base, Schedule):
            rate = ScaledSchedule(base, multiplier)
        else:
            rate = base * multiplier
        chosen[name] = make(rate, name)
    return GroupOptimizer(
        chosen,
        _variable_groups(groups),
        multipliers=dict(zip(names, multipliers)),
        global_clipnorm=_take_global_clipnorm(chosen),
        untrained_groups=zero,
    )


def _spread(lr, decay, names):
    n = len(names)
    if isinstance(lr, list):
        if len(lr) != n:
            raise ValueError(
                f"`lr` as a list needs one rate per group: {n} for {names}. "
                f"Received {len(lr)}: lr={lr!r}"
            )
        return _from_list(lr)
    if isinstance(lr, tuple):
        if len(lr) != 2 or not all(_is_number(x) for x in lr):
            raise ValueError(
                "`lr=(low, high)` takes two floats; for a schedule pass "
                f"`lr=schedule, decay=d`. Received: lr={lr!r}"
            )
        if decay is not None:
            raise ValueError(
                "Pass either `lr=(low, high)` or `decay`, not both. "
                f"Received: lr={lr!r}, decay={decay!r}"
            )
        low, high = (float(x) for x in lr)
        if not all(_finite(x) and x > 0 for x in (low, high)):
            raise ValueError(
                "`lr=(low, high)` spreads rates geometrically: both must be "
                f"finite floats > 0. Received: lr={lr!r}"
            )
        return high, geometric_spread(low / high, 1.0, n)
    if not (_is_number(lr) or isinstance(lr, Schedule)):
        raise TypeError(
            "`lr` must be a float, a keras.optimizers.schedules schedule, "
            f"(low, high) or a list of {n} floats. Received: lr={lr!r}"
        )
    if _is_number(lr) and not (_finite(lr) and lr > 0):
        raise ValueError(
            f"`lr` must be a finite float > 0. Received: lr={lr!r}"
        )
    if decay is not None:
        return lr, layer_decay(decay, n)
    return lr, [0.1] * (n - 1) + [1.0]


def _from_list(lr):
    if not all(_is_number(x) and _finite(x) and x >= 0 for x in lr):
        raise ValueError(
            f"Rates must be finite floats >= 0. Received: lr={lr!r}"
        )
    base = float(lr[-1]) or float(max(lr))
    if base == 0:
        raise ValueError(f"At least one rate must be > 0. Received: lr={lr!r}")
    return base, [float(x) / base for x in lr]


def _finite(x) -> bool:
    """Finite, also in float32 (the optimizers' variables)."""
    return math.isfinite(x) and abs(x) <= _FLOAT32_MAX


_FLOAT32_MAX = 3.4028234663852886e38


def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _optimizer_factory(optimizer, kwargs):
    if isinstance(optimizer, keras.optimizers.Optimizer):
        config = optimizer.get_config()
        config.update(kwargs)
        cls = optimizer.__class__

        def make(rate, name):
            return cls.from_config(
                {**copy.deepcopy(config), "learning_rate": rate, "name": name}
            )

        return make
    if isinstance(optimizer, str):
        template = keras.optimizers.get(optimizer)
        cls = template.__class__
    elif isinstance(optimizer, type) and issubclass(
        optimizer, keras.optimizers.Optimizer
    ):
        cls = optimizer
    elif callable(optimizer):

        def make(rate, name):
            built = optimizer(rate)
            if not isinstance(built, keras.optimizers.Optimizer):
                raise TypeError(
                    "The optimizer factory must return a Keras optimizer. "
                    f"Received: {built!r}"
                )
            return built

        return make
    else:
        raise TypeError(
            "`optimizer` must be a name, an optimizer class, an optimizer or "
            f"a callable learning_rate -> optimizer. Received: "
            f"optimizer={optimizer!r}"
        )

    def make(rate, name):
        return cls(learning_rate=rate, name=name, **kwargs)

    return make


def _variable_groups(groups) -> dict:
    mapping = {}
    for group in groups:
        for variable in group.variables:
            owner = mapping.setdefault(variable.path, group.name)
            if owner != group.name:
                raise ValueError(
                    f"Variable path {variable.path!r} appears in groups "
                    f"{owner!r} and {group.name!r}; give the layers unique "
                    "names."
                )
    return mapping


def _check_covered(groups, chosen):
    missing = [
        v.path
        for g in groups
        if g.name not in chosen
        for v in g.trainable_variables
    ]
    if missing:
        raise ValueError(
            f"{len(missing)} trainable variables belong to groups without an "
            f"optimizer: {missing}. Name their groups or pass `default`."
        )


def _multipliers_of(chosen):
    """Multipliers relative to the head's rate, when all rates are floats."""
    rates = {}
    for name, optimizer in chosen.items():
        if not keras_internals.has_fixed_learning_rate(optimizer):
            return None
        rates[name] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    base = max(rates.values(), default=0.0)
    if base == 0:
        return None
    return {name: rate / base for name, rate in rates.items()}


def _take_global_clipnorm(chosen):
    """Move the sub-optimizers' `global_clipnorm` to the group level."""
    norms = {opt.global_clipnorm for opt in chosen.values()}
    norms.discard(None)
    if len(norms) > 1:
        raise ValueError(
            "The groups' optimizers have different `global_clipnorm` values "
            f"{sorted(norms)}; one global norm clips all groups. Pass "
            "`global_clipnorm=` to per_group instead."
        )
    for opt in chosen.values():
        opt.global_clipnorm = None
    return norms.pop() if norms else None
