"""`rank_bases`: choose a base before training any."""

import dataclasses
import time
from typing import List
from typing import Optional
from typing import Sequence

import keras

from tlkeras.builders import build_feature_extractor
from tlkeras.strategies.features import batches
from tlkeras.strategies.features import compute_features
from tlkeras.tuning.transferability import h_score
from tlkeras.tuning.transferability import logme

METRICS = ("logme", "h_score")


@dataclasses.dataclass
class BaseScore:
    """One candidate's transferability scores."""

    base: str
    logme: float
    h_score: float
    feature_dim: int
    seconds: float


def rank_bases(
    candidates: Sequence,
    data,
    *,
    image_size: Sequence[int],
    labels=None,
    weights="imagenet",
    base_kwargs: Optional[dict] = None,
    metric: str = "logme",
    batch_size: int = 32,
    verbose: int = 1,
) -> List[BaseScore]:
    """Rank candidate bases by the transferability of their frozen
    features to your labelled data, best first, before any training.

    Each base's pooled features are computed once (one pass over `data`,
    with a Keras progress bar), then scored with LogME (You et al. 2021)
    and the H-score (Bao et al. 2019). A ranked table with the time each
    base took is printed.

    Args:
        candidates: base names, `"hub:<handle>"` strings or `keras.Model`s.
        data: a `tf.data.Dataset` of `(images, labels)` batches, or images
            (then pass `labels`).
        image_size: `(height, width)`.
        labels: integer labels when `data` is an array. Defaults to `None`.
        weights: `"imagenet"`, a weights path, or a dict base -> either.
            Defaults to `"imagenet"`.
        base_kwargs: dict base -> constructor kwargs (e.g.
            `{"mobilenet_v2": {"alpha": 0.35}}`). Defaults to `None`.
        metric: `"logme"` or `"h_score"`, the ranking score. Defaults to
            `"logme"`.
        batch_size: int, for array data. Defaults to `32`.
        verbose: int, 1 prints progress and the table. Defaults to `1`.

    Returns:
        A list of `BaseScore`s, best first.

    Example:

    >>> import numpy as np
    >>> x = np.random.rand(16, 32, 32, 3) * 255; y = np.arange(16) % 2
    >>> scores = rank_bases(
    ...     ["mobilenet_v2", "mobilenet"], x, labels=y, image_size=(32, 32),
    ...     weights=None, verbose=0,
    ...     base_kwargs={"mobilenet_v2": {"alpha": 0.35},
    ...                  "mobilenet": {"alpha": 0.25}})
    >>> sorted(s.base for s in scores)
    ['mobilenet', 'mobilenet_v2']
    """
    if metric not in METRICS:
        raise ValueError(
            f"`metric` must be one of {METRICS}. Received: metric={metric!r}"
        )
    if not candidates:
        raise ValueError("`candidates` is empty; pass at least one base.")
    data = batches(data, labels, batch_size)
    scores = []
    for candidate in candidates:
        name = candidate if isinstance(candidate, str) else candidate.name
        start = time.perf_counter()
        extractor = build_feature_extractor(
            candidate,
            input_shape=tuple(image_size) + (3,),
            weights=weights.get(name, "imagenet")
            if isinstance(weights, dict)
            else weights,
            base_kwargs=(base_kwargs or {}).get(name),
        )
        if verbose:
            print(f"Features of {name}:")
        features, y = compute_features(extractor, data, verbose=verbose)
        features = features.reshape(len(features), -1)
        scores.append(
            BaseScore(
                base=name,
                logme=logme(features, y),
                h_score=h_score(features, y),
                feature_dim=features.shape[1],
                seconds=time.perf_counter() - start,
            )
        )
        keras.backend.clear_session(free_memory=False)
    scores.sort(key=lambda s: getattr(s, metric), reverse=True)
    if verbose:
        print(format_ranking(scores, metric))
    return scores


def format_ranking(scores: Sequence[BaseScore], metric: str = "logme") -> str:
    """The ranking as a text table."""
    width = max(len("base"), *(len(s.base) for s in scores))
    lines = [
        f"{'rank':>4}  {'base':{width}}  {'LogME':>9}  {'H-score':>9}  "
        f"{'dim':>6}  {'seconds':>8}   (ranked by {metric})"
    ]
    for rank, s in enumerate(scores, 1):
        lines.append(
            f"{rank:>4}  {s.base:{width}}  {s.logme:9.4f}  {s.h_score:9.4f}  "
            f"{s.feature_dim:>6}  {s.seconds:8.2f}"
        )
    return "\n".join(lines)
