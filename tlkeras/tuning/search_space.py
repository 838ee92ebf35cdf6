"""The hyperparameters `TransferHyperModel` searches, and how a user fixes
or narrows each one."""

from typing import Any
from typing import Dict

from tlkeras._utils.close_matches import did_you_mean
from tlkeras.freezing import parse_policy

# name -> (kind, default range or choices, log sampling)
DEFAULT_SPACE: Dict[str, tuple] = {
    "head_layers": ("int", (0, 2), False),
    "units": ("choice", [64, 128, 256, 512], False),
    "dropout": ("float", (0.0, 0.5), False),
    "l2": ("choice", [0.0, 1e-5, 1e-4, 1e-3], False),
    "learning_rate": ("float", (1e-4, 1e-2), True),
    "spread": ("float", (1.0, 100.0), True),
    "unfreeze": ("int", (0, None), False),  # None: the number of groups
    "optimizer": ("choice", ["adam", "adamw", "sgd"], False),
}


# Not searched: a fixed freeze policy in place of `unfreeze`.
FIXED_ONLY = ("freeze",)


def check_search(search) -> Dict[str, Any]:
    """Validate the user's `search` overrides."""
    search = dict(search or {})
    if "freeze" in search:
        if "unfreeze" in search:
            raise ValueError(
                "Pass `unfreeze` (searched, TrainTop(k)) or `freeze` (a fixed "
                "freeze policy) in `search`, not both. Received: "
                f"unfreeze={search['unfreeze']!r}, freeze={search['freeze']!r}"
            )
        search["freeze"] = parse_policy(search["freeze"])
    known = list(DEFAULT_SPACE) + list(FIXED_ONLY)
    unknown = [name for name in search if name not in known]
    if unknown:
        hints = "".join(did_you_mean(n, known) for n in unknown)
        raise ValueError(
            f"Unknown hyperparameter(s) {unknown} in `search`. The space: "
            f"{sorted(known)}.{hints}"
        )
    for name, value in search.items():
        if name in FIXED_ONLY:
            continue
        if isinstance(value, tuple) and (
            len(value) != 2 or not value[0] <= value[1]
        ):
            raise ValueError(
                f"A range in `search` is (low, high) with low <= high. "
                f"Received: {name}={value!r}"
            )
        if isinstance(value, list) and not value:
            raise ValueError(
                f"A choice in `search` needs at least one value. Received: "
                f"{name}={value!r}"
            )
    return search


def sample(hp, name: str, override, num_groups: int):
    """Register `name` with KerasTuner's `hp` and return its value.

    `override` is what the user put in `search`: missing (`...`) for the
    default range, a list for a choice, a `(low, high)` tuple for a range,
    or a single value to fix it.
    """
    kind, default, log = DEFAULT_SPACE[name]
    if name == "unfreeze":
        default = (0, num_groups)
    spec = default if override is ... else override
    if isinstance(spec, list):
        return hp.Choice(name, spec)
    if isinstance(spec, tuple):
        low, high = spec
        if low == high:
            return hp.Fixed(name, low)
        ints = all(isinstance(v, int) for v in spec)
        if kind == "int" or (kind == "choice" and ints):
            return hp.Int(name, int(low), int(high))
        return hp.Float(
            name, float(low), float(high), sampling="log" if log else "linear"
        )
    if kind == "choice" and override is ...:
        return hp.Choice(name, default)
    return hp.Fixed(name, spec)
