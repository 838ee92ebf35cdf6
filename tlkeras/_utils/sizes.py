"""Sizes of variables."""


def num_elements(variable) -> int:
    """The number of scalars in a variable (or anything with a `shape`).

    Example:

    >>> import numpy as np
    >>> num_elements(np.zeros((3, 4)))
    12
    """
    size = 1
    for dim in variable.shape:
        size *= int(dim)
    return size
