"""The BatchNormalization policies, shared by bases and freezing.

`tlkeras.freezing` is their public home (`BN_POLICIES`, `check_bn`); they
live here so a TF-Hub layer can check its own `bn` argument.
"""

BN_POLICIES = ("frozen", "train")


def check_bn(bn) -> str:
    """Return `bn` if it is a BatchNormalization policy, else raise.

    Example:

    >>> check_bn("frozen")
    'frozen'
    """
    if bn not in BN_POLICIES:
        raise ValueError(
            f"`bn` must be one of {BN_POLICIES}. Received: bn={bn!r}"
        )
    return bn
