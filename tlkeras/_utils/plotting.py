"""Lazy matplotlib (an optional dependency) and atomic figure saving."""

import os
from typing import Union

from tlkeras._utils.atomic import atomic_path


def pyplot(feature: str):
    """`matplotlib.pyplot` on the Agg backend, or an ImportError saying
    that `feature` needs matplotlib and how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError(
            f"{feature} needs matplotlib. Install it with "
            "`pip install tlkeras[plot]` or `pip install matplotlib`."
        ) from None
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def save_figure(figure, path: Union[str, os.PathLike]) -> str:
    """Write `figure` to `path` as PNG, atomically, and close it."""
    from matplotlib import pyplot as plt

    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    plt.close(figure)
    return str(path)
