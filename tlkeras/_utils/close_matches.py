"""Close-match suggestions for error messages."""

import difflib
from typing import Iterable


def normalize(name: str) -> str:
    """Lower-case `name` and drop `_`, `-`, `.` and spaces."""
    return "".join(c for c in name.lower() if c not in "_-. ")


def did_you_mean(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """A `" Did you mean 'a' or 'b'?"` sentence, or `""` if nothing is close.

    Matching ignores case and separators, so `"resnet05"` suggests
    `"ResNet50"`.
    """
    candidates = list(candidates)
    by_key = {}
    for candidate in candidates:
        by_key.setdefault(normalize(candidate), candidate)
    keys = difflib.get_close_matches(
        normalize(name), list(by_key), n=n, cutoff=0.6
    )
    if not keys:
        return ""
    quoted = [f"'{by_key[k]}'" for k in keys]
    if len(quoted) == 1:
        return f" Did you mean {quoted[0]}?"
    return f" Did you mean {', '.join(quoted[:-1])} or {quoted[-1]}?"
