"""Find TF-Hub modules: URLs through `tensorflow_hub`'s cache, local paths,
and modules that moved since a model was saved."""

import contextlib
import hashlib
import os
import tempfile
from typing import Dict
from typing import Iterable
from typing import Iterator

_RELOCATIONS: Dict[str, str] = {}
_URL_PREFIXES = ("http://", "https://", "gs://")
# Handles this process may load from a model file under `safe_mode`: those
# the user passed to a HubLayer (or a "hub:" base) themselves, and those
# named in `trusted_hub_handles`.
_TRUSTED: set = set()
_TRUSTED_SCOPES: list = []


class HubModuleNotFoundError(FileNotFoundError):
    """A TF-Hub handle could not be found locally nor fetched."""


class UntrustedHubHandleError(ValueError):
    """A model file names a TF-Hub module the user has not said they trust,
    and `safe_mode` is on."""


def trust_handle(handle: str) -> None:
    """Record that the user gave `handle` themselves (not a model file)."""
    _TRUSTED.add(str(handle))


def is_trusted(handle: str) -> bool:
    """Whether `handle` may be loaded from a model file under `safe_mode`."""
    handle = str(handle)
    return handle in _TRUSTED or any(handle in s for s in _TRUSTED_SCOPES)


@contextlib.contextmanager
def trusted_hub_handles(handles: Iterable[str]) -> Iterator[None]:
    """Let model files name these TF-Hub handles while loading under
    `safe_mode`.

    A TF-Hub module is a SavedModel, and a SavedModel can carry arbitrary
    graph code: Keras's own `TFSMLayer` refuses to load one from a `.keras`
    file under the default `safe_mode` for that reason, and so does
    `tlkeras.bases.HubLayer`, unless the handle is one you passed to tlkeras
    yourself in this process or one named here. (`safe_mode=False` or
    `keras.config.enable_unsafe_deserialization()` trust every handle.)

    Args:
        handles: the handles (local paths or URLs) you trust.

    Example:

    >>> with trusted_hub_handles(["/models/mobilenet_v3"]):
    ...     is_trusted("/models/mobilenet_v3")  # or keras.saving.load_model
    True
    >>> is_trusted("/models/mobilenet_v3")
    False
    """
    if isinstance(handles, str):
        raise TypeError(
            "`handles` is a list of handles; wrap a single one in a list. "
            f"Received: handles={handles!r}"
        )
    scope = {str(h) for h in handles}
    _TRUSTED_SCOPES.append(scope)
    try:
        yield
    finally:
        _TRUSTED_SCOPES.remove(scope)


def hub_cache_dir() -> str:
    """The folder where `tensorflow_hub` caches downloaded modules.

    `TFHUB_CACHE_DIR` when set, else `<tmp>/tfhub_modules` (what
    `tensorflow_hub.resolve` uses).

    Example:

    >>> hub_cache_dir().endswith("tfhub_modules") or "TFHUB_CACHE_DIR" in \\
    ...     os.environ
    True
    """
    return os.environ.get("TFHUB_CACHE_DIR") or os.path.join(
        tempfile.gettempdir(), "tfhub_modules"
    )


@contextlib.contextmanager
def hub_relocations(mapping: Dict[str, str]) -> Iterator[None]:
    """Point TF-Hub handles saved in models to new places while loading.

    A `.keras` file of a model with a `"hub:<path>"` base stores the path;
    if the module has moved since, load the model inside this context. The
    loaded model records the new path, so saving it again stores that one.

    Args:
        mapping: dict, old handle -> new handle (a local path or URL).

    Example:

    >>> with hub_relocations({"/old/place/module": "/new/place/module"}):
    ...     relocated("/old/place/module")  # or keras.saving.load_model(...)
    '/new/place/module'
    >>> relocated("/old/place/module")
    '/old/place/module'
    """
    if not isinstance(mapping, dict):
        raise TypeError(
            "`mapping` must be a dict of old handle -> new handle. "
            f"Received: mapping={mapping!r}"
        )
    saved = dict(_RELOCATIONS)
    _RELOCATIONS.update({str(k): str(v) for k, v in mapping.items()})
    try:
        yield
    finally:
        _RELOCATIONS.clear()
        _RELOCATIONS.update(saved)


def relocated(handle: str) -> str:
    """The handle to use for `handle` (itself unless relocated)."""
    return _RELOCATIONS.get(handle, handle)


def resolve_handle(handle: str) -> str:
    """The local folder holding the SavedModel of a TF-Hub handle.

    Local folders are used as they are; URLs (tfhub.dev, Kaggle Models,
    `gs://`) are resolved by `tensorflow_hub`, which downloads them once
    into `hub_cache_dir()`.

    Args:
        handle: a URL or the path of a SavedModel folder.

    Raises:
        HubModuleNotFoundError: the folder does not exist, or the URL could
            not be fetched and is not in the cache.

    Example:

    >>> resolve_handle("/no/such/module")
    Traceback (most recent call last):
    ...
    tlkeras.bases.hub_handles.HubModuleNotFoundError: No TF-Hub module ...
    """
    if handle.startswith(_URL_PREFIXES):
        return _fetch(handle)
    path = os.path.expanduser(handle)
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    reason = (
        "the folder has no saved_model.pb"
        if os.path.isdir(path)
        else "there is no such folder"
    )
    raise HubModuleNotFoundError(
        f"No TF-Hub module at {handle!r}: {reason}. A local handle is the "
        "folder of a TF2 SavedModel (holding saved_model.pb and variables/). "
        "If the module moved after the model was saved, load it with "
        "`with tlkeras.bases.hub_relocations({old_path: new_path}): "
        "keras.saving.load_model(...)`. URL handles are cached in "
        f"{hub_cache_dir()!r} (TFHUB_CACHE_DIR)."
    )


def _fetch(handle: str) -> str:
    try:
        import tensorflow_hub
    except ImportError as error:
        raise ImportError(
            f"Fetching the TF-Hub handle {handle!r} needs tensorflow-hub: "
            "`pip install tlkeras[hub]`. A local SavedModel folder needs "
            "nothing extra."
        ) from error
    # Where tensorflow_hub keeps this handle (resolver.py: the SHA-1 of the
    # handle), to tell a broken cache from a missing one.
    cached = os.path.join(
        hub_cache_dir(), hashlib.sha1(handle.encode("utf8")).hexdigest()
    )
    try:
        path = tensorflow_hub.resolve(handle)
    except Exception as error:
        if os.path.isdir(cached):
            raise HubModuleNotFoundError(
                f"The TF-Hub module {handle!r} has a cache folder, "
                f"{cached!r}, but it could not be read ({error}): an "
                "interrupted download? Delete that folder to fetch the "
                "module again."
            ) from error
        raise HubModuleNotFoundError(
            f"Could not fetch the TF-Hub module {handle!r}: {error}. It is "
            f"not in the cache folder {hub_cache_dir()!r} (set "
            "TFHUB_CACHE_DIR to use another). Without a network, download "
            "the module elsewhere and pass its local folder as "
            "'hub:/path/to/module', or copy a filled cache folder here."
        ) from error
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        # tensorflow_hub hands back any existing cache folder as it is.
        raise HubModuleNotFoundError(
            f"The cached TF-Hub module {handle!r} at {path!r} has no "
            "saved_model.pb: the cache folder is broken (an interrupted "
            f"download?). Delete {path!r} to fetch the module again."
        )
    return path
