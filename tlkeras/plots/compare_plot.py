"""`compare`: strategies side by side, from a `tlkeras.compare` table."""

import os
from typing import Union

import numpy as np

from tlkeras._utils.plotting import pyplot
from tlkeras._utils.plotting import save_figure


def compare(table, path: Union[str, os.PathLike], *, title: str = "") -> str:
    """Bar chart of each strategy's accuracy and macro F1 (mean over seeds,
    with the range as error bars) and its training time.

    Needs matplotlib (`pip install tlkeras[plot]`).

    Args:
        table: a `tlkeras.Comparison` (what `tlkeras.compare` returns) or a
            list of dicts with `strategy`, `accuracy`, `macro_f1` and
            `seconds`.
        path: the PNG file to write (atomically).
        title: string. Defaults to `""`.

    Returns:
        The path written.

    Example:

    >>> import os, tempfile
    >>> out = os.path.join(tempfile.mkdtemp(), "compare.png")
    >>> rows = [{"strategy": "linear_probe", "accuracy": 0.9,
    ...          "macro_f1": 0.89, "seconds": 3.0},
    ...         {"strategy": "fine_tune", "accuracy": 0.93,
    ...          "macro_f1": 0.92, "seconds": 40.0}]
    >>> compare(rows, out) == out
    True
    """
    rows = [
        row if isinstance(row, dict) else row.to_dict()
        for row in getattr(table, "rows", table)
    ]
    if not rows:
        raise ValueError("The table has no rows to plot.")
    strategies = list(dict.fromkeys(row["strategy"] for row in rows))
    plt = pyplot("tlkeras.plots.compare")
    figure, (scores, times) = plt.subplots(
        1, 2, figsize=(9.6, 3.8), dpi=100, gridspec_kw={"width_ratios": [3, 2]}
    )
    positions = np.arange(len(strategies))
    for offset, key, label in (
        (-0.2, "accuracy", "accuracy"),
        (0.2, "macro_f1", "macro F1"),
    ):
        stats = [_stats(rows, s, key) for s in strategies]
        means = [m for m, _, _ in stats]
        errors = [
            [m - lo for m, lo, _ in stats],
            [hi - m for m, _, hi in stats],
        ]
        scores.bar(
            positions + offset, means, 0.4, yerr=errors, capsize=3, label=label
        )
    scores.set_xticks(positions, strategies, rotation=20, ha="right")
    scores.set_ylabel("score on the test data")
    lowest = min(min(r["accuracy"], r["macro_f1"]) for r in rows)
    scores.set_ylim(max(0.0, lowest - 0.1), 1.0)
    scores.grid(axis="y", alpha=0.3)
    scores.legend(loc="upper left", bbox_to_anchor=(0.0, -0.25), ncol=2)
    seconds = [_stats(rows, s, "seconds")[0] for s in strategies]
    times.barh(positions, seconds, color="tab:grey")
    times.set_yticks(positions, strategies)
    times.invert_yaxis()
    times.set_xlabel("seconds (mean)")
    times.grid(axis="x", alpha=0.3)
    seeds = len(rows) // len(strategies)
    figure.suptitle(title or f"strategies compared ({seeds} seed(s) each)")
    figure.tight_layout()
    return save_figure(figure, path)


def _stats(rows, strategy, key):
    values = [float(r[key]) for r in rows if r["strategy"] == strategy]
    return float(np.mean(values)), float(np.min(values)), float(np.max(values))
