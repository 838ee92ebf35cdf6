"""Frozen-base features, computed once: the one cache behind
`fit_cached`, the tuner's frozen-base trials and `rank_bases`."""

from typing import Callable
from typing import Optional
from typing import Tuple

import keras
import numpy as np
import tensorflow as tf

from tlkeras._utils import keras_internals

# Augmented passes cached when training data augments and the caller did not
# say how many (`train_head`, `tlk.compare`'s cached strategies).
AUGMENTED_COPIES = 4


def augments(x) -> bool:
    """Whether training data augments at random, so that features cached
    from one pass would freeze one draw: `tlkeras.data` built with
    `augment=`, or any `tf.data` pipeline that draws random numbers (a
    random Keras preprocessing layer or `tf.image.random_*` in a `map`,
    `Dataset.random`...; shuffling alone does not count). Arrays, and
    pipelines that cannot be read (Python generators, `py_function`), are
    taken as they are.

    Example:

    >>> data = tf.data.Dataset.from_tensor_slices(np.zeros((4, 8, 8, 3)))
    >>> augments(data.shuffle(4).batch(2))
    False
    >>> augments(data.map(tf.image.random_flip_left_right).batch(2))
    True
    """
    if getattr(x, "augmented", False):
        return True
    if not isinstance(x, tf.data.Dataset):
        return False
    return keras_internals.draws_random_numbers(x, unreadable=False)


def batches(x, y=None, batch_size: int = 32, *, shuffle: bool = False):
    """`(inputs, labels)` batches from a dataset of pairs or from arrays;
    arrays in order, or with `shuffle` reshuffled every pass, as `fit` takes
    them.

    Example:

    >>> ds = batches(np.zeros((5, 2)), np.arange(5), batch_size=2)
    >>> [int(b[0].shape[0]) for b in ds]
    [2, 2, 1]
    """
    if isinstance(x, tf.data.Dataset):
        if y is not None:
            raise ValueError(
                "Pass labels inside the dataset, not as `y`, when `x` is a "
                "tf.data.Dataset."
            )
        return x
    if y is None:
        raise ValueError("Array inputs need labels `y`.")
    data = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        data = data.shuffle(len(y), reshuffle_each_iteration=True)
    return data.batch(batch_size)


def forward_pass(extractor: keras.Model) -> Callable:
    """`extractor(inputs, training=False)`, traced once for every batch
    size (a `tf.function` whose input signature leaves the batch open).

    Traced, the frozen base runs as one graph, its BatchNormalization fused
    into the convolutions; eagerly, every layer is a Python call and every
    op its own pass over memory. MobileNetV2 (alpha 0.35, 96 px) over 384 +
    128 images: 1.6 s eagerly, 1.05 s traced, the tracing included (0.35 s
    for a second pass). Features agree to float rounding (1.6e-5 on values
    up to 6). Inputs are cast to the extractor's dtype as a Keras call
    would cast them. An extractor that cannot be traced runs eagerly.

    Example:

    >>> extractor = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    >>> forward = forward_pass(extractor)
    >>> [tuple(forward(np.ones((n, 2))).shape) for n in (4, 1)]
    [(4, 3), (1, 3)]
    """
    inputs = extractor.inputs
    specs = [tf.TensorSpec(t.shape, t.dtype) for t in inputs]

    def call(*args):
        return extractor(
            args[0] if len(args) == 1 else list(args), training=False
        )

    traced = tf.function(call, input_signature=specs, autograph=False)
    keras_internals.quiet_retracing(traced)  # one trace per extractor
    state = {"traced": True}

    def forward(x):
        if state["traced"]:
            args = x if isinstance(x, (list, tuple)) else [x]
            if len(args) == len(specs):
                try:
                    return traced(
                        *[_cast(a, s.dtype) for a, s in zip(args, specs)]
                    )
                except (TypeError, ValueError, NotImplementedError):
                    # Not traceable with an open batch, or inputs of
                    # another structure: the eager call says what is wrong.
                    state["traced"] = False
        return extractor(x, training=False)

    return forward


def _cast(x, dtype):
    x = tf.convert_to_tensor(x)
    if x.dtype != dtype and x.dtype != tf.string and dtype != tf.string:
        x = tf.cast(x, dtype)
    return x


def compute_features(
    extractor: keras.Model,
    data,
    *,
    verbose: int = 1,
    label: str = "",
    forward: Optional[Callable] = None,
) -> Tuple[np.ndarray, np.ndarray]:
    """Features and labels of every batch of `data`, in one pass (so a
    dataset that reshuffles keeps inputs and labels together), with a Keras
    progress bar. An extractor with several outputs gives a list of
    feature arrays. `forward` is the extractor's `forward_pass` (made here
    when not given: pass one to trace once for several passes).

    Example:

    >>> extractor = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    >>> data = batches(np.ones((4, 2)), np.arange(4))
    >>> f, y = compute_features(extractor, data, verbose=0)
    >>> f.shape, y.tolist()
    ((4, 3), [0, 1, 2, 3])
    """
    forward = forward or forward_pass(extractor)
    steps = None
    if isinstance(data, tf.data.Dataset):
        cardinality = int(data.cardinality())
        steps = cardinality if cardinality > 0 else None
    progress = keras.utils.Progbar(steps, verbose=verbose, unit_name="batch")
    features, labels = [], []
    for step, batch in enumerate(data):
        x, y = batch[0], batch[1]
        outputs = forward(x)
        several = isinstance(outputs, (list, tuple))
        outputs = outputs if several else [outputs]
        features.append([keras.ops.convert_to_numpy(o) for o in outputs])
        labels.append(np.asarray(y))
        progress.update(step + 1)
    if not features:
        raise ValueError(f"No batches to compute {label} features from.")
    columns = [np.concatenate(part) for part in zip(*features)]
    return (columns if several else columns[0]), np.concatenate(labels)


def extractor_of(model: keras.Model, *, pooled: bool = True) -> keras.Model:
    """Inputs -> the features a `TransferModel`'s head trains on, sharing
    its layers: preprocessing, base and, with `pooled`, the head's own
    weightless pooling (a `tlkeras.heads.Head`), so a cache holds vectors
    rather than feature maps.

    Example:

    >>> import tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "mobilenet_v2", 2, input_shape=(64, 64, 3), weights=None,
    ...     base_kwargs={"alpha": 0.35})
    >>> extractor_of(model, pooled=False).output_shape
    (None, 2, 2, 1280)
    >>> extractor_of(model).output_shape
    (None, 1280)
    """
    inputs = keras.Input(model.input_shape[1:], dtype=model.inputs[0].dtype)
    x = inputs if model.preprocessing is None else model.preprocessing(inputs)
    x = model.base(x)
    if pooled and is_pooling_head(model.head):
        x = model.head.pool_features(x)
    return keras.Model(inputs, x)


def is_pooling_head(head) -> bool:
    """Whether `head` is a tlkeras head that can train on pooled features."""
    return hasattr(head, "pool_features") and hasattr(head, "call_pooled")


# Inputs per batch of a feature pass over arrays: a call costs more than
# its arithmetic (measured when the pass ran eagerly, MobileNetV2 at 96 px:
# 3.5 s for 512 images in batches of 32, about 1.4 s in 128 or 256), so
# bigger batches are faster, up to a pixel budget that keeps big inputs in
# memory. Features do not depend on the batch.
PASS_PIXELS = 128 * 224 * 224
PASS_MAX_BATCH = 256


def pass_batch_size(input_shape, batch_size: int) -> int:
    """The batch size of a feature pass over arrays: at least `batch_size`,
    up to 256 inputs or 128 images of 224x224 pixels.

    Example:

    >>> pass_batch_size((None, 224, 224, 3), 32)
    128
    >>> pass_batch_size((None, 96, 96, 3), 32), pass_batch_size((None,), 32)
    (256, 256)
    """
    pixels = int(np.prod([d or 1 for d in input_shape[1:-1]]))
    return max(batch_size, min(PASS_MAX_BATCH, PASS_PIXELS // max(pixels, 1)))


class FeatureCache:
    """Features of datasets under one frozen base, each computed once.

    Keyed by the data objects themselves (arrays or datasets): the same
    objects give the cached features, other objects are computed anew. Use
    one cache per frozen base: the extractor is not part of the key (the
    tuner's trials each build their own extractor of the same weights).
    `computations` counts the passes over data, for tests and logs.

    Example:

    >>> cache = FeatureCache()
    >>> extractor = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    >>> x, y = np.ones((4, 2)), np.arange(4)
    >>> _ = cache.get(extractor, x, y, verbose=0)
    >>> _ = cache.get(extractor, x, y, verbose=0)
    >>> cache.computations
    1
    """

    def __init__(self):
        self._entries = {}
        self._forwards = {}
        self.computations = 0

    def forward(self, extractor: keras.Model) -> Callable:
        """The extractor's `forward_pass`, traced once for this cache."""
        entry = self._forwards.get(id(extractor))
        if entry is None or entry[0] is not extractor:
            entry = (extractor, forward_pass(extractor))
            self._forwards[id(extractor)] = entry
        return entry[1]

    def get(
        self,
        extractor: keras.Model,
        x,
        y=None,
        *,
        batch_size: int = 32,
        copies: int = 1,
        verbose: int = 1,
        label: str = "",
    ) -> Tuple[np.ndarray, np.ndarray]:
        """`(features, labels)` of `(x, y)`; `copies` passes are made and
        concatenated (of randomly augmented data, `copies` draws). Arrays
        are passed in batches of `pass_batch_size(...)`: `batch_size` or
        more."""
        key = (id(x), id(y), copies)
        entry = self._entries.get(key)
        if entry is None or entry[0] is not x or entry[1] is not y:
            if not isinstance(x, tf.data.Dataset):
                batch_size = pass_batch_size(extractor.input_shape, batch_size)
            data = batches(x, y, batch_size)
            parts = []
            for copy in range(copies):
                if verbose:
                    what = f" {label}" if label else ""
                    suffix = (
                        f" (copy {copy + 1}/{copies})" if copies > 1 else ""
                    )
                    print(f"Computing{what} features{suffix}:")
                self.computations += 1
                parts.append(
                    compute_features(
                        extractor,
                        data,
                        verbose=verbose,
                        label=label,
                        forward=self.forward(extractor),
                    )
                )
            features = np.concatenate([p[0] for p in parts])
            labels = np.concatenate([p[1] for p in parts])
            entry = (x, y, features, labels)
            self._entries[key] = entry
        return entry[2], entry[3]

    def get_both(
        self,
        extractor: keras.Model,
        x,
        y=None,
        validation_data=None,
        *,
        batch_size: int = 32,
        copies: int = 1,
        verbose: int = 1,
    ):
        """`get` for the training data (`copies` passes) and for
        `validation_data` (`(x, y)` or a dataset; one pass), each labelled
        in the progress lines: `((features, labels), validation)`, where
        `validation` is `(features, labels)` or `None`.

        Example:

        >>> cache = FeatureCache()
        >>> extractor = keras.Sequential(
        ...     [keras.Input((2,)), keras.layers.Dense(3)])
        >>> x, y = np.ones((4, 2)), np.arange(4)
        >>> train, validation = cache.get_both(
        ...     extractor, x, y, (x[:2], y[:2]), verbose=0)
        >>> train[0].shape, validation[0].shape
        ((4, 3), (2, 3))
        """
        options = dict(batch_size=batch_size, verbose=verbose)
        train = self.get(
            extractor, x, y, copies=copies, label="training", **options
        )
        if validation_data is None:
            return train, None
        vx, vy = split_validation(validation_data)
        return train, self.get(extractor, vx, vy, label="validation", **options)

    def clear(self) -> None:
        """Forget every cached entry."""
        self._entries.clear()
        self._forwards.clear()


def batch_size_of(x) -> int:
    """The batch size of a dataset of batches (its first batch's), or 32
    for arrays.

    Example:

    >>> batch_size_of(tf.data.Dataset.range(10).batch(4).map(
    ...     lambda b: (b, b)))
    4
    """
    if not isinstance(x, tf.data.Dataset):
        return 32
    for inputs, _ in x.take(1):
        return int(inputs.shape[0])
    raise ValueError("The training dataset is empty.")


def split_validation(validation) -> Tuple[object, Optional[object]]:
    """`(x, y)` of `validation_data` given as a tuple or a dataset."""
    if isinstance(validation, tuple):
        return validation[0], validation[1] if len(validation) > 1 else None
    return validation, None
