"""`history`: the learning curves of one training run, readable at a glance."""

import os
from typing import List
from typing import Sequence
from typing import Union

from tlkeras._utils.plotting import pyplot
from tlkeras._utils.plotting import save_figure

# Logged by tlkeras.callbacks.ProgressiveUnfreezing: how many base groups
# train in each epoch.
TRAINABLE_GROUPS = "trainable_groups"


def history(
    history_or_histories,
    path: Union[str, os.PathLike],
    *,
    title: str = "",
    metrics: Sequence[str] = None,
) -> str:
    """Plot a run's loss and metrics per epoch, training against validation.

    One panel per metric (`loss`, `accuracy`...: training solid, `val_`
    dashed), and one for the learning rates on a log axis when the run
    logged `lr/<group>` (per-group optimizers). Vertical lines mark where a
    stage begins (the histories of a list, or the stages of a
    `tlkeras.recipes` History) and where `ProgressiveUnfreezing` unfroze
    more groups (its `trainable_groups` log), each labelled.

    Needs matplotlib (`pip install tlkeras[plot]`).

    Args:
        history_or_histories: a `keras.callbacks.History`, its `.history`
            dict, or a list of them (consecutive stages).
        path: the PNG file to write (atomically).
        title: string. Defaults to `""`: "learning curves", the model's
            name (when the History knows its model) and the epochs.
        metrics: the metrics to plot. Defaults to every logged one.

    Returns:
        The path written.

    Example:

    >>> import os, tempfile
    >>> out = os.path.join(tempfile.mkdtemp(), "history.png")
    >>> log = {"loss": [1.0, 0.6, 0.4], "val_loss": [1.1, 0.8, 0.7],
    ...        "lr/head": [1e-3, 1e-3, 1e-4], "lr/conv5": [0, 1e-5, 1e-5]}
    >>> history(log, out) == out
    True
    """
    logs, stages = _concatenate(history_or_histories)
    epochs = max((len(v) for v in logs.values()), default=0)
    if not epochs:
        raise ValueError("The history is empty: nothing to plot.")
    names = list(metrics) if metrics else _metric_names(logs)
    unknown = [m for m in names if m not in logs]
    if unknown:
        raise ValueError(
            f"No metric {unknown} in the history. It has: {sorted(logs)}."
        )
    rates = sorted(k for k in logs if k.startswith("lr/"))
    plt = pyplot("tlkeras.plots.history")
    panels = len(names) + (1 if rates else 0)
    figure, axes = plt.subplots(
        panels,
        1,
        figsize=(7.6, 2.6 * panels),
        dpi=100,
        sharex=True,
        squeeze=False,
    )
    axes = axes[:, 0]
    x = range(1, epochs + 1)
    for axis, name in zip(axes, names):
        axis.plot(x[: len(logs[name])], logs[name], label="training")
        if f"val_{name}" in logs:
            values = logs[f"val_{name}"]
            axis.plot(x[: len(values)], values, "--", label="validation")
        axis.set_ylabel(name)
    if rates:
        axis = axes[-1]
        for key in rates:
            values = [v if v > 0 else float("nan") for v in logs[key]]
            axis.plot(x[: len(values)], values, label=key[3:])
        axis.set_yscale("log")
        axis.set_ylabel("learning rate")
    for start in stages:
        _mark(axes, start, "stage", "grey", ":")
    for epoch, count in _transitions(logs):
        label = f"{count} base group{'' if count == 1 else 's'}"
        _mark(axes, epoch, label, "tab:red", "-.")
    for axis in axes:
        axis.grid(alpha=0.3)
        axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    axes[-1].set_xlabel("epoch")
    axes[-1].xaxis.get_major_locator().set_params(integer=True)
    figure.suptitle(title or _title(history_or_histories, epochs))
    figure.tight_layout()
    return save_figure(figure, path)


def _title(history_or_histories, epochs: int) -> str:
    runs = (
        history_or_histories
        if isinstance(history_or_histories, (list, tuple))
        else [history_or_histories]
    )
    models = {getattr(getattr(r, "model", None), "name", None) for r in runs}
    models.discard(None)
    of = f" of {', '.join(sorted(models))}" if models else ""
    return f"learning curves{of}, {epochs} epoch{'' if epochs == 1 else 's'}"


def _mark(axes, epoch, label, color, linestyle):
    """A vertical line before the epoch at index `epoch` on every panel,
    labelled above the first."""
    for axis in axes:
        axis.axvline(epoch + 0.5, color=color, linestyle=linestyle, lw=1)
    axes[0].annotate(
        label,
        (epoch + 0.5, 1.0),
        xycoords=("data", "axes fraction"),
        fontsize=8,
        color=color,
        ha="left",
        va="bottom",
    )


def transitions(history_or_histories) -> List[tuple]:
    """`[(epoch index, trainable base groups)]` where unfreezing changed
    what trains, from a History's `trainable_groups` log.

    Example:

    >>> transitions({"trainable_groups": [0, 0, 1, 2, 2]})
    [(2, 1), (3, 2)]
    """
    logs, _ = _concatenate(history_or_histories)
    return _transitions(logs)


def _transitions(logs):
    counts = logs.get(TRAINABLE_GROUPS, [])
    return [
        (i, int(counts[i]))
        for i in range(1, len(counts))
        if counts[i] != counts[i - 1]
    ]


def _metric_names(logs):
    names = [
        k
        for k in logs
        if not k.startswith(("val_", "lr/")) and k != TRAINABLE_GROUPS
    ]
    return sorted(names, key=lambda k: k != "loss")  # the loss first


def _concatenate(value):
    """One dict of lists for one run or several stages, and the epochs
    where stages begin."""
    parts = value if isinstance(value, (list, tuple)) else [value]
    logs, stages, offset = {}, [], 0
    for index, part in enumerate(parts):
        own = getattr(part, "stage_starts", None) or []
        part_logs = getattr(part, "history", part)
        if not isinstance(part_logs, dict):
            raise TypeError(
                "Pass a keras.callbacks.History, its .history dict or a list "
                f"of them. Received: {part!r}"
            )
        length = max((len(v) for v in part_logs.values()), default=0)
        if index:
            stages.append(offset)
        stages += [offset + s for s in own if s > 0]
        for key, values in part_logs.items():
            column = logs.setdefault(key, [float("nan")] * offset)
            column += [float(v) for v in values]
        offset += length
        for column in logs.values():
            column += [float("nan")] * (offset - len(column))
    return logs, stages
