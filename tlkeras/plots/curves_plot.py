"""One curve per run (e.g. per strategy), written atomically."""

import os
from typing import Dict
from typing import Sequence
from typing import Union

from tlkeras._utils.plotting import pyplot
from tlkeras._utils.plotting import save_figure


def curves(
    runs: Dict[str, Sequence[float]],
    path: Union[str, os.PathLike],
    *,
    ylabel: str = "test accuracy",
    title: str = "",
    marks: Dict[str, int] = None,
) -> str:
    """Plot one line per strategy (metric per epoch) to a PNG file.

    Needs matplotlib (`pip install tlkeras[plot]`).

    Args:
        runs: dict of run (strategy) name to the metric after each epoch.
        path: the PNG file to write (atomically).
        ylabel: string, the y-axis label. Defaults to `"test accuracy"`.
        title: string, the plot title. Defaults to `""`: "<ylabel> per
            epoch".
        marks: dict of strategy name to an epoch to mark with a dotted line
            (e.g. where fine-tuning starts). Defaults to `None`.

    Returns:
        The path written.

    Example:

    >>> import tempfile, os
    >>> out = os.path.join(tempfile.mkdtemp(), "curves.png")
    >>> curves({"a": [0.1, 0.5], "b": [0.2, 0.3]}, out) == out
    True
    """
    plt = pyplot("tlkeras.plots.curves")
    figure, axes = plt.subplots(figsize=(7.6, 4.0), dpi=100)
    for name, values in runs.items():
        epochs = range(1, len(values) + 1)
        (line,) = axes.plot(epochs, values, label=name, linewidth=1.8)
        if marks and name in marks:
            axes.axvline(
                marks[name] + 0.5,
                color=line.get_color(),
                linestyle=":",
                linewidth=1,
            )
    axes.set_xlabel("epoch")
    axes.set_ylabel(ylabel)
    axes.set_title(title or f"{ylabel} per epoch")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    figure.tight_layout()
    return save_figure(figure, path)
