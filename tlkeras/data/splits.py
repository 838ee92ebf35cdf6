"""What the dataset functions share: argument checks, the seeded
validation split, tensorflow-datasets loading and the batching pipeline."""

from typing import Callable
from typing import Optional

import numpy as np
import tensorflow as tf

from tlkeras.data.service import distribute

SUBSETS = ("training", "validation", "both")


def check_split_arguments(
    source, split: Optional[str], validation_split, subset
) -> bool:
    """Validate the split arguments; return whether `source` is tfds."""
    if subset is not None and subset not in SUBSETS:
        raise ValueError(
            f"`subset` must be one of {SUBSETS}. Received: subset={subset!r}"
        )
    if (validation_split is None) != (subset is None):
        raise ValueError(
            "`validation_split` and `subset` go together. Received: "
            f"validation_split={validation_split!r}, subset={subset!r}"
        )
    if validation_split is not None and not 0 < validation_split < 1:
        raise ValueError(
            "`validation_split` must be in (0, 1). Received: "
            f"validation_split={validation_split!r}"
        )
    is_tfds = isinstance(source, str) and source.startswith("tfds:")
    if is_tfds and validation_split is not None:
        raise ValueError(
            "Use split strings (e.g. 'train[:80%]') with tfds sources, "
            f"not validation_split. Received: "
            f"validation_split={validation_split!r}"
        )
    if not is_tfds and split is not None:
        raise ValueError(
            "`split` applies to tfds sources. Received: "
            f"split={split!r} for source={source!r}"
        )
    return is_tfds


def split_examples(inputs, labels, validation_split, seed):
    """`[(subset name, inputs, labels)]`: everything as `"all"`, or a
    seeded shuffle cut into `"training"` and `"validation"`."""
    if validation_split is None:
        return [("all", inputs, labels)]
    order = np.random.default_rng(seed).permutation(len(labels))
    cut = len(labels) - int(round(validation_split * len(labels)))
    train, val = order[:cut], order[cut:]
    return [
        ("training", inputs[train], labels[train]),
        ("validation", inputs[val], labels[val]),
    ]


def load_tfds(name: str, split: str):
    """A tensorflow-datasets split as `(input, int64 label)` examples and
    its class names."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise ImportError(
            "tfds: sources need tensorflow-datasets: `pip install "
            "tlkeras[tfds]`."
        ) from None
    examples, info = tfds.load(
        name, split=split, as_supervised=True, with_info=True
    )
    label = info.features[info.supervised_keys[1]]
    class_names = list(getattr(label, "names", None) or [])
    return examples.map(lambda x, y: (x, tf.cast(y, "int64"))), class_names


def finish_parts(
    parts: dict,
    subset,
    class_names,
    *,
    batch_size: int,
    shuffle: bool,
    cache: bool,
    seed,
    shuffle_buffer: int,
    prepare: Optional[Callable] = None,
    augment=None,
    service: Optional[str] = None,
    processing_mode: str = "distributed_epoch",
):
    """The batched dataset(s) `subset` asks for, from split `parts`.

    The one pipeline of `image_dataset` and `text_dataset`: `prepare` each
    example (resize), cache, shuffle, batch, augment the training batches,
    prefetch, and carry `class_names`. `subset="both"` gives
    `(training, validation)`. With `service`, everything up to the batches
    runs on the `tf.data` service's workers.
    """

    def finish(examples, training):
        if prepare is not None:
            examples = prepare(examples)
        if cache:
            examples = examples.cache()
        if shuffle:
            examples = examples.shuffle(
                shuffle_buffer, seed=seed, reshuffle_each_iteration=True
            )
        batches = examples.batch(batch_size)
        if service is not None:
            batches = distribute(batches, service, processing_mode)
        if training and augment is not None:
            batches = batches.map(
                lambda x, y: (augment(x, training=True), y),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
        batches = batches.prefetch(tf.data.AUTOTUNE)
        batches.class_names = class_names
        # Read by tlkeras.cached.fit_cached: features of randomly
        # augmented batches must not be cached as if they were fixed.
        batches.augmented = training and augment is not None
        return batches

    if subset == "both":
        return (
            finish(parts["training"], True),
            finish(parts["validation"], False),
        )
    return finish(parts[subset or "all"], subset != "validation")
