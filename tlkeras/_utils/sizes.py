"""Sizes of variables and of this machine's memory."""

import os


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


def fits_in_memory(nbytes: int, share: float = 0.25) -> bool:
    """Whether `nbytes` is under `share` of this machine's physical memory
    (what `cache="auto"` asks before keeping a dataset in memory).

    Example:

    >>> fits_in_memory(1024), fits_in_memory(2**80)
    (True, False)
    """
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not POSIX: be modest
        total = 4 * 2**30
    return nbytes < share * total
