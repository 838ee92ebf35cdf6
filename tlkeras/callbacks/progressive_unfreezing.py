"""`ProgressiveUnfreezing` and `GradualUnfreezing`: unfreeze inside `fit`."""

from typing import Mapping
from typing import Optional

import keras

from tlkeras import freezing
from tlkeras._utils import keras_internals
from tlkeras.training import GroupOptimizer
from tlkeras.training import inner_optimizer
from tlkeras.training import sync_trainable


class ProgressiveUnfreezing(keras.callbacks.Callback):
    """Unfreeze base groups on a schedule, taking effect within one `fit`.

    At each epoch in the schedule the callback changes which base groups
    train (the head always does), has Keras use a new train function (one
    retrace), gives the optimizer state for the newly trainable variables
    only (every other group's state is kept as it was: Adam moments, step
    counts) and prints what changed. It works with a single optimizer and
    with `tlkeras.training.per_group`/`discriminative`, where each group
    keeps its own rate. BatchNormalization follows the model's `bn` policy.
    Each epoch's number of trainable base groups is logged as
    `trainable_groups` (`tlkeras.plots.history` marks the transitions).

    Resuming is exact: `fit(initial_epoch=k)`, `BackupAndRestore` and a
    reloaded `.keras` checkpoint continue with the trainability the schedule
    gives epoch `k` and with the optimizer state saved.

    Args:
        schedule: dict of epoch to the freeze policy from that epoch on, in
            the vocabulary of `tlkeras.freezing.parse_policy`: `"base"` (the
            head only), `TrainTop(k)` (the `k` base groups nearest the
            head), `TrainGroups([...])`, `UpTo(layer_name)`, a predicate,
            or `"none"` (the whole base). What trains must grow with the
            epoch.
        warmup_epochs: int, ramp a newly unfrozen group's learning rate
            linearly up to its own rate over this many epochs (`(k + 1) /
            (warmup_epochs + 1)` of it in the `k`-th). Needs an optimizer
            from `tlkeras.training.discriminative` with float rates; any
            other is refused when training begins. Defaults to `0`.
        verbose: int, 1 prints each change. Defaults to `1`.

    Example:

    >>> from tlkeras.freezing import TrainTop
    >>> callback = ProgressiveUnfreezing(
    ...     {0: "base", 2: TrainTop(1), 4: TrainTop(2), 6: "none"})
    """

    def __init__(
        self,
        schedule: Mapping,
        *,
        warmup_epochs: int = 0,
        verbose: int = 1,
    ):
        super().__init__()
        if not isinstance(warmup_epochs, int) or warmup_epochs < 0:
            raise ValueError(
                "`warmup_epochs` must be an int >= 0. Received: "
                f"warmup_epochs={warmup_epochs!r}"
            )
        self.schedule = _check_schedule(schedule)
        self.warmup_epochs = warmup_epochs
        self.verbose = verbose

    # === Schedule ===

    def target(self, epoch: int, groups: list) -> Optional[set]:
        """The ids of the base layers that train at `epoch` (`None`: no
        entry yet). `groups` are the model's base groups."""
        entries = [e for e in self.schedule if e <= epoch]
        if not entries:
            return None
        return self._trained_ids(self.schedule[max(entries)], groups)

    @staticmethod
    def _trained_ids(policy, groups) -> set:
        return {id(layer) for layer in policy.trainable_layers(groups)}

    def _first_epoch_of(self, group, groups):
        ids = {id(layer) for layer in group.layers}
        for epoch in sorted(self.schedule):
            if ids & self._trained_ids(self.schedule[epoch], groups):
                return epoch
        return None

    # === Callback ===

    def on_train_begin(self, logs=None):
        self._check_warmup()
        groups = self._base_groups()
        names = [g.name for g in groups]
        previous = None
        for epoch, policy in self.schedule.items():
            count = getattr(policy, "count", None)
            if count is not None and count > len(names):
                raise ValueError(
                    f"The schedule asks for {count} base groups at epoch "
                    f"{epoch}, but the base has {len(names)}: {names}."
                )
            unknown = [
                n for n in getattr(policy, "names", ()) if n not in names
            ]
            if unknown:
                raise ValueError(
                    f"The schedule names {unknown} at epoch {epoch}, but "
                    f"the base groups are {names}."
                )
            layers = self._trained_ids(policy, groups)
            if previous is not None and not layers > previous[1]:
                raise ValueError(
                    "The schedule must unfreeze more layers as epochs go "
                    f"on; epoch {epoch} ({policy}) does not add to epoch "
                    f"{previous[0]} ({self.schedule[previous[0]]})."
                )
            previous = (epoch, layers)

    def on_epoch_begin(self, epoch, logs=None):
        groups = self._base_groups()
        target = self.target(epoch, groups)
        if target is not None:
            current = {g.name for g in groups if g.trainable}
            wanted = {
                g.name for g in groups if any(id(x) in target for x in g.layers)
            }
            if wanted != current:
                policy = self.schedule[
                    max(e for e in self.schedule if e <= epoch)
                ]
                freezing.apply(self.model, policy)
                sync_trainable(self.model)
            now = {g.name for g in groups if g.trainable}
            if self.verbose and now != current:
                names = [g.name for g in groups]
                change = ", ".join(
                    [f"+{n}" for n in names if n in now - current]
                    + [f"-{n}" for n in names if n in current - now]
                )
                print(
                    f"\nEpoch {epoch + 1}: ProgressiveUnfreezing: "
                    f"{change}; training "
                    f"{[n for n in names if n in now] + ['head']}."
                )
        if self.warmup_epochs:
            self._warm_up(epoch, groups)

    def on_epoch_end(self, epoch, logs=None):
        # In the History (and CSV/TensorBoard logs): how many base groups
        # trained this epoch; tlkeras.plots.history marks where it changes.
        if logs is not None:
            logs["trainable_groups"] = sum(
                1 for g in self._base_groups() if g.trainable
            )

    # === Helpers ===

    def _base_groups(self):
        return freezing.split_head_groups(self.model)[0]

    def _check_warmup(self):
        # Refused before the first step rather than ignored or failing
        # mid-fit: the ramp sets each group's rate as a multiple of the
        # base rate, which needs tied, fixed (non-schedule) rates.
        if not self.warmup_epochs:
            return
        optimizer = inner_optimizer(self.model.optimizer)
        tied = isinstance(optimizer, GroupOptimizer) and optimizer.multipliers
        fixed = tied and all(
            keras_internals.has_fixed_learning_rate(o)
            for o in optimizer.group_optimizers.values()
        )
        if not fixed:
            raise ValueError(
                f"warmup_epochs={self.warmup_epochs} ramps each unfrozen "
                "group's rate up to its share of the base rate, so it needs "
                "an optimizer from tlkeras.training.discriminative with "
                "float rates (not schedules). Received: "
                f"{type(self.model.optimizer).__name__}"
                + ("" if tied else " without per-group rates tied to a base")
                + ". Use warmup_epochs=0, or a schedule with warm-up "
                "(tlkeras.recipes.warmup_cosine)."
            )

    def _warm_up(self, epoch, groups):
        optimizer = inner_optimizer(self.model.optimizer)
        base = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        for group in groups:
            start = self._first_epoch_of(group, groups)
            sub = optimizer.group_optimizers.get(group.name)
            if start is None or sub is None or start == 0:
                continue
            k = epoch - start
            if 0 <= k <= self.warmup_epochs:
                fraction = min(1.0, (k + 1) / (self.warmup_epochs + 1))
                sub.learning_rate = (
                    base * optimizer.multipliers[group.name] * fraction
                )


class GradualUnfreezing(ProgressiveUnfreezing):
    """ULMFiT's gradual unfreezing: one more base group every `every` epochs.

    The head trains alone first; the `k`-th base group (from the head side)
    joins at epoch `start + k * every`, until the whole base trains. With
    the defaults, epoch 0 trains the head, epoch 1 adds one group, epoch 2
    another... as in ULMFiT.

    Args:
        every: int, epochs between two unfreezings. Defaults to `1`.
        start: int, the epoch the count starts from. Defaults to `0`.
        warmup_epochs, verbose: as `ProgressiveUnfreezing`.

    Example:

    >>> callback = GradualUnfreezing(every=1)
    """

    def __init__(self, every: int = 1, start: int = 0, **kwargs):
        for name, value in (("every", every), ("start", start)):
            if not isinstance(value, int) or value < (
                1 if name == "every" else 0
            ):
                raise ValueError(
                    f"`{name}` must be an int >= "
                    f"{1 if name == 'every' else 0}. Received: "
                    f"{name}={value!r}"
                )
        self.every = every
        self.start = start
        super().__init__({0: "base"}, **kwargs)

    def on_train_begin(self, logs=None):
        count = len(self._base_groups())
        self.schedule = {
            self.start + k * self.every: freezing.TrainTop(k)
            for k in range(count + 1)
        }
        self.schedule[0] = freezing.TrainTop(0)
        super().on_train_begin(logs)


_BASE = freezing.parse_policy("base")
_NONE = freezing.parse_policy("none")


def _check_schedule(schedule) -> dict:
    if not isinstance(schedule, Mapping) or not schedule:
        raise ValueError(
            "`schedule` must be a non-empty dict of epoch to a freeze "
            f"policy. Received: schedule={schedule!r}"
        )
    checked = {}
    for epoch, value in schedule.items():
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
            raise ValueError(
                f"Schedule epochs must be ints >= 0. Received: {epoch!r}"
            )
        try:
            checked[epoch] = freezing.parse_policy(value, f"schedule[{epoch}]")
        except (TypeError, ValueError):
            raise ValueError(
                "Each schedule value is a freeze policy: 'base', "
                "tlkeras.freezing.TrainTop(k), TrainGroups([names]), "
                "UpTo(layer_name), a predicate, or 'none' (the whole base). "
                f"Received: {epoch}: {value!r}"
            ) from None
    ordered = dict(sorted(checked.items()))
    previous_epoch, previous = None, None
    for epoch, policy in ordered.items():
        if previous is not None and not _grows(previous, policy):
            raise ValueError(
                "The schedule must unfreeze more groups as epochs go on; "
                f"epoch {epoch} ({policy}) does not add to epoch "
                f"{previous_epoch} ({previous})."
            )
        previous_epoch, previous = epoch, policy
    return ordered


def _grows(before, after) -> bool:
    """Whether `after` trains more than `before`, where that can be told
    without the model (the rest is checked when training begins)."""
    if after == before or before == _NONE or after == _BASE:
        return False
    count = (getattr(before, "count", None), getattr(after, "count", None))
    if None not in count:
        return count[1] > count[0]
    names = (getattr(before, "names", None), getattr(after, "names", None))
    if None not in names:
        return set(names[1]) > set(names[0])
    return True
