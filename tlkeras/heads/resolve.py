"""Turn the `head=` argument of the builders into a head template."""

from tlkeras.heads.head import MLP
from tlkeras.heads.head import Head
from tlkeras.heads.head import Linear

_NAMED = {"linear": Linear, "mlp": MLP}


def resolve_head(head) -> Head:
    """A `Head` template from `"linear"`, `"mlp"` or a `Head` instance.

    Example:

    >>> type(resolve_head("linear")).__name__
    'Linear'
    """
    if isinstance(head, Head):
        return head
    if isinstance(head, str) and head.lower() in _NAMED:
        return _NAMED[head.lower()]()
    raise ValueError(
        "`head` must be 'linear', 'mlp' or a tlkeras.heads.Head such as "
        f"tlkeras.heads.MLP(units=(128,)). Received: head={head!r}"
    )
