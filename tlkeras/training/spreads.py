"""Learning-rate multipliers across layer groups (fastai, timm)."""

from typing import List


def geometric_spread(low: float, high: float, num_groups: int) -> List[float]:
    """Rates from `low` (first group) to `high` (last), evenly in log space.

    fastai's `even_mults(start, stop, n)`, used for `slice(lo, hi)`
    (`fastai/torch_core.py`): group `i` of `n` gets
    `low * (high / low) ** (i / (n - 1))`.

    Example:

    >>> [round(r, 6) for r in geometric_spread(1e-5, 1e-3, 3)]
    [1e-05, 0.0001, 0.001]
    """
    if num_groups == 1:
        return [high]
    if low <= 0 or high <= 0:
        raise ValueError(
            "A geometric spread needs positive rates. Received: "
            f"low={low!r}, high={high!r}"
        )
    # As multipliers of `high`, so the last group gets `high` exactly.
    ratio = low / high
    last = num_groups - 1
    return [high * ratio ** ((last - i) / last) for i in range(num_groups)]


def layer_decay(decay: float, num_groups: int) -> List[float]:
    """Multipliers `decay ** depth`, depth 0 for the last group (the head).

    timm's `param_groups_layer_decay` (`timm/optim/_param_groups.py`)
    scales group `i` of `L` by `layer_decay ** (L - 1 - i)`.

    Example:

    >>> layer_decay(0.5, 3)
    [0.25, 0.5, 1.0]
    """
    if not 0 < decay <= 1:
        raise ValueError(
            f"`decay` must be in (0, 1]. Received: decay={decay!r}"
        )
    return [decay ** (num_groups - 1 - i) for i in range(num_groups)]
