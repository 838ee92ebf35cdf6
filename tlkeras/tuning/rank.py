"""`rank_bases`: choose a base before training any."""

import dataclasses
import time
from typing import List
from typing import Optional
from typing import Sequence

import keras

from tlkeras.bases import ApplicationPreprocessing
from tlkeras.bases import get_spec
from tlkeras.builders import build_feature_extractor
from tlkeras.strategies import batches
from tlkeras.strategies import compute_features
from tlkeras.tuning.transferability import h_score
from tlkeras.tuning.transferability import leep
from tlkeras.tuning.transferability import logme
from tlkeras.tuning.transferability import nce

METRICS = ("logme", "h_score", "leep", "nce")
# Scores that need the base's source head (its pretrained classifier).
SOURCE_METRICS = ("leep", "nce")


@dataclasses.dataclass
class BaseScore:
    """One candidate's transferability scores."""

    base: str
    logme: float
    h_score: float
    feature_dim: int
    seconds: float
    leep: Optional[float] = None
    nce: Optional[float] = None


def rank_bases(
    candidates: Sequence,
    data,
    *,
    image_size: Sequence[int],
    labels=None,
    weights="imagenet",
    base_kwargs: Optional[dict] = None,
    metric: str = "logme",
    source_weights: Optional[dict] = None,
    batch_size: int = 32,
    verbose: int = 1,
) -> List[BaseScore]:
    """Rank candidate bases by the transferability of their frozen
    features to your labelled data, best first, before any training.

    Each base's pooled features are computed once (one pass over `data`,
    with a Keras progress bar), then scored with LogME (You et al. 2021)
    and the H-score (Bao et al. 2019). Bases given in `source_weights` are
    also run with their pretrained classifier (e.g. ImageNet's 1000
    classes, on images resized to the classifier's input size) in the same
    pass, for LEEP (Nguyen et al. 2020) and NCE (Tran et al. 2019). A
    ranked table with the time each base took is printed.

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
        metric: `"logme"`, `"h_score"`, `"leep"` or `"nce"`, the ranking
            score (the last two need `source_weights` for every
            candidate). Defaults to `"logme"`.
        source_weights: dict of base name to the weights of the base *with*
            its classification top (`"imagenet"` or a file such as
            `mobilenet_1_0_224_tf.h5`), for LEEP and NCE. Defaults to
            `None`.
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
    source_weights = dict(source_weights or {})
    names = [c if isinstance(c, str) else c.name for c in candidates]
    unknown = [n for n in source_weights if n not in names]
    if unknown:
        raise ValueError(
            f"`source_weights` names {unknown}, which are not candidates: "
            f"{names}."
        )
    if metric in SOURCE_METRICS:
        missing = [n for n in names if n not in source_weights]
        if missing:
            raise ValueError(
                f"metric={metric!r} needs each base's source classifier; "
                f"pass `source_weights` for {missing} too."
            )
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
        source = None
        if name in source_weights:
            source = _source_classifier(
                name,
                image_size,
                source_weights[name],
                (base_kwargs or {}).get(name),
            )
            # One model, two outputs: features and source probabilities
            # come from the same pass (a reshuffling dataset stays aligned).
            inputs = extractor.inputs
            extractor = keras.Model(
                inputs, [extractor(inputs[0]), source(inputs[0])]
            )
        if verbose:
            print(f"Features of {name}:")
        outputs, y = compute_features(extractor, data, verbose=verbose)
        features, probabilities = (
            outputs if source is not None else (outputs, None)
        )
        features = features.reshape(len(features), -1)
        scores.append(
            BaseScore(
                base=name,
                logme=logme(features, y),
                h_score=h_score(features, y),
                feature_dim=features.shape[1],
                seconds=time.perf_counter() - start,
                leep=None if source is None else leep(probabilities, y),
                nce=None if source is None else nce(probabilities, y),
            )
        )
        keras.backend.clear_session(free_memory=False)
    scores.sort(key=lambda s: getattr(s, metric), reverse=True)
    if verbose:
        print(format_ranking(scores, metric))
    return scores


def format_ranking(scores: Sequence[BaseScore], metric: str = "logme") -> str:
    """The ranking as a text table (LEEP and NCE columns when any base has
    them)."""
    width = max(len("base"), *(len(s.base) for s in scores))
    source = any(s.leep is not None for s in scores)
    extra = f"  {'LEEP':>9}  {'NCE':>9}" if source else ""
    lines = [
        f"{'rank':>4}  {'base':{width}}  {'LogME':>9}  {'H-score':>9}"
        f"{extra}  {'dim':>6}  {'seconds':>8}   (ranked by {metric})"
    ]
    for rank, s in enumerate(scores, 1):
        values = ""
        if source:
            values = "".join(
                f"  {v:9.4f}" if v is not None else f"  {'-':>9}"
                for v in (s.leep, s.nce)
            )
        lines.append(
            f"{rank:>4}  {s.base:{width}}  {s.logme:9.4f}  {s.h_score:9.4f}"
            f"{values}  {s.feature_dim:>6}  {s.seconds:8.2f}"
        )
    return "\n".join(lines)


def _source_classifier(name, image_size, weights, base_kwargs):
    """Raw pixels at `image_size` -> the base's source-class probabilities:
    resized to the classifier's own input size, the family's
    preprocessing, then the base with its pretrained top."""
    spec = get_spec(name)
    classifier = spec.constructor(
        include_top=True, weights=weights, **(base_kwargs or {})
    )
    height, width = classifier.input_shape[1:3]
    inputs = keras.Input(tuple(image_size) + (3,))
    x = keras.layers.Resizing(height, width)(inputs)
    if spec.family_spec.preprocess:
        x = ApplicationPreprocessing(spec.family)(x)
    return keras.Model(inputs, classifier(x), name=f"{classifier.name}_source")
