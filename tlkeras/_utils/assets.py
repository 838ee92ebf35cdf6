"""Where the shared test assets live (never shipped with tlkeras)."""

import os
from pathlib import Path
from typing import Optional

ASSETS_ENV = "TLKERAS_ASSETS"


def find_assets(path: Optional[str] = None) -> Optional[Path]:
    """The assets folder: `path`, else `$TLKERAS_ASSETS`, else `None`.

    Returns `None` rather than raising so callers can skip or fall back.
    """
    path = path or os.environ.get(ASSETS_ENV)
    if not path:
        return None
    path = Path(path).expanduser()
    return path if path.is_dir() else None
