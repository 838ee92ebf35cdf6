"""Old public names that moved, kept for one release with a warning."""

import importlib
import warnings
from typing import Callable
from typing import Dict


def moved_names(package: str, moved: Dict[str, object]) -> Callable:
    """A module `__getattr__` that serves `moved` (old name -> new module,
    or `(new module, new name)`) with a `DeprecationWarning` naming the new
    home.

    The new module is imported by name when the old name is first used, so
    a lower layer can keep an alias of a name that moved above it without
    importing upward (the layers contract in setup.cfg).

    Example:

    >>> __getattr__ = moved_names("mypkg", {"sqrt": "math"})
    """

    def __getattr__(name):
        if name not in moved:
            raise AttributeError(
                f"module {package!r} has no attribute {name!r}"
            )
        new = moved[name]
        module, new_name = new if isinstance(new, tuple) else (new, name)
        warnings.warn(
            f"{package}.{name} moved to {module}.{new_name}; the old name "
            "will be removed in tlkeras 0.3.",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(module), new_name)

    return __getattr__
