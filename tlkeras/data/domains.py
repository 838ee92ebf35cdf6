"""`zip_domains`: labelled source batches beside unlabelled target ones."""

import tensorflow as tf


def zip_domains(
    source: tf.data.Dataset, target: tf.data.Dataset
) -> tf.data.Dataset:
    """Pair each labelled source batch with an unlabelled target batch, as
    `tlkeras.strategies.DomainAdaptation.fit` takes them:
    `((x_source, x_target), y_source)` (with the source's sample weights
    third, if it has them).

    An epoch is as long as the longer of the two; the shorter one starts
    over (with its own shuffling) when it runs out. Target batches may
    carry labels, `(x, y)`: they are dropped.

    Args:
        source: a batched `tf.data.Dataset` of `(x, y)` or `(x, y, w)`.
        target: a batched `tf.data.Dataset` of `x` or `(x, y)`.

    Returns:
        The zipped `tf.data.Dataset`.

    Example:

    >>> import numpy as np
    >>> source = tf.data.Dataset.from_tensor_slices(
    ...     (np.zeros((10, 2)), np.arange(10))).batch(4)
    >>> target = tf.data.Dataset.from_tensor_slices(np.ones((4, 2))).batch(4)
    >>> zipped = zip_domains(source, target)
    >>> int(zipped.cardinality())
    3
    >>> (x_source, x_target), y = next(iter(zipped))
    >>> tuple(x_source.shape), tuple(x_target.shape)
    ((4, 2), (4, 2))
    """
    for name, data in (("source", source), ("target", target)):
        if not isinstance(data, tf.data.Dataset):
            raise TypeError(
                f"`{name}` must be a batched tf.data.Dataset. Received: "
                f"{type(data).__name__}"
            )
    if not isinstance(source.element_spec, tuple) or not (
        2 <= len(source.element_spec) <= 3
    ):
        raise ValueError(
            "`source` must give labelled batches, (x, y) or (x, y, "
            f"sample_weight). Received: {source.element_spec}"
        )
    if isinstance(target.element_spec, tuple):
        target = target.map(lambda x, *_: x)
    counts = [int(source.cardinality()), int(target.cardinality())]
    if counts[0] == tf.data.INFINITE_CARDINALITY:
        source_first = False
    elif counts[1] == tf.data.INFINITE_CARDINALITY or counts[0] < 0:
        source_first = True
    else:
        source_first = counts[0] >= counts[1] or counts[1] < 0
    if source_first:
        # The source sets the epoch; the target cycles.
        pairs = tf.data.Dataset.zip((source, target.repeat()))
    else:
        pairs = tf.data.Dataset.zip((source.repeat(), target))
    return pairs.map(
        lambda labelled, x_target: (
            (labelled[0], x_target),
            *labelled[1:],
        )
    )
