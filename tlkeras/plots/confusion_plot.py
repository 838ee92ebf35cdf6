"""`confusion_matrix`: a report's confusion matrix as a picture."""

import os
from typing import Optional
from typing import Union

import numpy as np

from tlkeras._utils.plotting import pyplot
from tlkeras._utils.plotting import save_figure

NORMALIZE = (None, "true", "pred", "all")


def confusion_matrix(
    report,
    path: Union[str, os.PathLike],
    *,
    normalize: Optional[str] = None,
    title: str = "",
) -> str:
    """Plot the confusion matrix of a `tlkeras.evaluation.report`.

    Rows are the true classes, columns the predicted ones, each cell
    annotated; `normalize` divides by the true-class totals (`"true"`: each
    row sums to 1, so the diagonal is per-class recall), the predicted
    totals (`"pred"`: precision) or everything (`"all"`), as scikit-learn's
    `confusion_matrix(normalize=...)`.

    Args:
        report: a `tlkeras.evaluation.Report` with a confusion matrix.
        path: the PNG file to write (atomically).
        normalize: `None`, `"true"`, `"pred"` or `"all"`. Defaults to
            `None` (counts).
        title: string. Defaults to `""`.

    Returns:
        The path written.
    """
    if normalize not in NORMALIZE:
        raise ValueError(
            f"`normalize` must be one of {NORMALIZE}. Received: "
            f"normalize={normalize!r}"
        )
    if getattr(report, "confusion", None) is None:
        raise ValueError(
            "This report has no confusion matrix (multi-label and "
            "regression reports have none)."
        )
    matrix = normalized(np.asarray(report.confusion, "float64"), normalize)
    names = list(report.class_names)
    plt = pyplot("tlkeras.plots.confusion_matrix")
    size = max(4.0, 0.6 * len(names) + 2.5)
    figure, axis = plt.subplots(figsize=(size + 1.0, size), dpi=100)
    image = axis.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
    axis.set_xticks(range(len(names)), names, rotation=45, ha="right")
    axis.set_yticks(range(len(names)), names)
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    threshold = matrix.max() / 2 if matrix.size else 0
    for (i, j), value in np.ndenumerate(matrix):
        text = f"{int(value)}" if normalize is None else f"{value:.2f}"
        axis.text(
            j,
            i,
            text,
            ha="center",
            va="center",
            color="white" if value > threshold else "black",
            fontsize=9,
        )
    what = "counts" if normalize is None else f"normalized over {normalize}"
    axis.set_title(title or f"confusion matrix ({what})")
    figure.tight_layout()
    return save_figure(figure, path)


def normalized(matrix: np.ndarray, normalize: Optional[str]) -> np.ndarray:
    """`matrix` divided as scikit-learn's `normalize=` does (0 where a
    total is 0).

    Example:

    >>> normalized(np.array([[3.0, 1.0], [0.0, 0.0]]), "true").tolist()
    [[0.75, 0.25], [0.0, 0.0]]
    """
    if normalize is None:
        return matrix
    with np.errstate(invalid="ignore", divide="ignore"):
        if normalize == "true":
            result = matrix / matrix.sum(axis=1, keepdims=True)
        elif normalize == "pred":
            result = matrix / matrix.sum(axis=0, keepdims=True)
        else:
            result = matrix / matrix.sum()
    return np.nan_to_num(result)
