"""`ProgressiveUnfreezing` and `GradualUnfreezing`: unfreeze inside `fit`."""

from typing import Mapping
from typing import Optional

import keras

from tlkeras import freezing
from tlkeras.training.group_optimizer import GroupOptimizer
from tlkeras.training.learning_rate import unwrap


class ProgressiveUnfreezing(keras.callbacks.Callback):
    """Unfreeze base groups on a schedule, taking effect within one `fit`.

    At each epoch in the schedule the callback changes which base groups
    train (the head always does), has Keras use a new train function (one
    retrace), gives the optimizer state for the newly trainable variables
    only (every other group's state is kept as it was: Adam moments, step
    counts) and prints what changed. It works with a single optimizer and
    with `tlkeras.optimizers.per_group`/`discriminative`, where each group
    keeps its own rate. BatchNormalization follows the model's `bn` policy.

    Resuming is exact: `fit(initial_epoch=k)`, `BackupAndRestore` and a
    reloaded `.keras` checkpoint continue with the trainability the schedule
    gives epoch `k` and with the optimizer state saved.

    Args:
        schedule: dict of epoch to what trains from that epoch on: the
            number of base groups, counted from the head side (`0`: the head
            only; `"all"`: the whole base), or a list of group names. The
            counts (or name sets) must grow with the epoch.
        warmup_epochs: int, with a `GroupOptimizer`, ramp a newly unfrozen
            group's learning rate linearly up to its own rate over this many
            epochs (`(k + 1) / (warmup_epochs + 1)` of it in the `k`-th).
            Defaults to `0`.
        verbose: int, 1 prints each change. Defaults to `1`.

    Example:

    >>> callback = ProgressiveUnfreezing({0: 0, 2: 1, 4: 2, 6: "all"})
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

    def target(self, epoch: int, names: list) -> Optional[set]:
        """The base groups that train at `epoch` (`None`: no entry yet)."""
        entries = [e for e in self.schedule if e <= epoch]
        if not entries:
            return None
        return self._resolve(self.schedule[max(entries)], names)

    def _resolve(self, value, names):
        if value == "all":
            return set(names)
        if isinstance(value, int):
            return set(names[len(names) - value :]) if value else set()
        return set(value)

    def _first_epoch_of(self, group, names):
        for epoch in sorted(self.schedule):
            if group in self._resolve(self.schedule[epoch], names):
                return epoch
        return None

    # === Callback ===

    def on_train_begin(self, logs=None):
        names = self._base_group_names()
        for epoch, value in self.schedule.items():
            if isinstance(value, int) and value > len(names):
                raise ValueError(
                    f"The schedule asks for {value} base groups at epoch "
                    f"{epoch}, but the base has {len(names)}: {names}."
                )
            if isinstance(value, (list, tuple)):
                unknown = [n for n in value if n not in names]
                if unknown:
                    raise ValueError(
                        f"The schedule names {unknown} at epoch {epoch}, but "
                        f"the base groups are {names}."
                    )

    def on_epoch_begin(self, epoch, logs=None):
        names = self._base_group_names()
        target = self.target(epoch, names)
        if target is not None:
            groups = freezing.layer_groups(self.model)[:-1]
            current = {g.name for g in groups if g.trainable}
            if target != current:
                self._apply(groups, target)
                if self.verbose:
                    added = [n for n in names if n in target - current]
                    removed = [n for n in names if n in current - target]
                    change = ", ".join(
                        [f"+{n}" for n in added] + [f"-{n}" for n in removed]
                    )
                    print(
                        f"\nEpoch {epoch + 1}: ProgressiveUnfreezing: "
                        f"{change}; training "
                        f"{[n for n in names if n in target] + ['head']}."
                    )
        if self.warmup_epochs:
            self._warm_up(epoch, names)

    # === Helpers ===

    def _base_group_names(self):
        return [g.name for g in freezing.layer_groups(self.model)[:-1]]

    def _apply(self, groups, target):
        chosen = {
            id(layer) for g in groups if g.name in target for layer in g.layers
        }
        freezing.apply(self.model, lambda layer: id(layer) not in chosen)

    def _warm_up(self, epoch, names):
        optimizer = unwrap(self.model.optimizer)
        if not isinstance(optimizer, GroupOptimizer) or not (
            optimizer.multipliers
        ):
            return
        base = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        for group in names:
            start = self._first_epoch_of(group, names)
            sub = optimizer.group_optimizers.get(group)
            if start is None or sub is None or start == 0:
                continue
            k = epoch - start
            if 0 <= k <= self.warmup_epochs:
                fraction = min(1.0, (k + 1) / (self.warmup_epochs + 1))
                sub.learning_rate = (
                    base * optimizer.multipliers[group] * (fraction)
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
        super().__init__({0: 0}, **kwargs)

    def on_train_begin(self, logs=None):
        count = len(self._base_group_names())
        self.schedule = {
            self.start + k * self.every: k for k in range(count + 1)
        }
        self.schedule[0] = 0
        super().on_train_begin(logs)


def _check_schedule(schedule) -> dict:
    if not isinstance(schedule, Mapping) or not schedule:
        raise ValueError(
            "`schedule` must be a non-empty dict of epoch to a number of "
            "base groups, 'all', or a list of group names. Received: "
            f"schedule={schedule!r}"
        )
    checked = {}
    for epoch, value in schedule.items():
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
            raise ValueError(
                f"Schedule epochs must be ints >= 0. Received: {epoch!r}"
            )
        if isinstance(value, bool) or not (
            (isinstance(value, int) and value >= 0)
            or value == "all"
            or (
                isinstance(value, (list, tuple))
                and all(isinstance(n, str) for n in value)
            )
        ):
            raise ValueError(
                "Each schedule value is an int >= 0 (base groups from the "
                "head side), 'all', or a list of group names. Received: "
                f"{epoch}: {value!r}"
            )
        checked[epoch] = list(value) if isinstance(value, tuple) else value
    ordered = dict(sorted(checked.items()))
    previous_epoch, previous = None, None
    for epoch, value in ordered.items():
        if previous is not None and not _grows(previous, value):
            raise ValueError(
                "The schedule must unfreeze more groups as epochs go on; "
                f"epoch {epoch} ({value!r}) does not add to epoch "
                f"{previous_epoch} ({previous!r})."
            )
        previous_epoch, previous = epoch, value
    return ordered


def _grows(before, after) -> bool:
    if after == "all":
        return before != "all"
    if before == "all":
        return False
    if isinstance(before, int) and isinstance(after, int):
        return after > before
    if isinstance(before, list) and isinstance(after, list):
        return set(after) > set(before)
    return True  # counts and names mixed: checked against groups later
