"""`fit_cached`: feature extraction and linear probing where the frozen
base runs once, not every epoch."""

import os
import shutil
import tempfile
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from tlkeras import freezing
from tlkeras.cached.features import FeatureCache
from tlkeras.cached.features import augments
from tlkeras.cached.features import batch_size_of
from tlkeras.cached.features import batches
from tlkeras.cached.features import extractor_of
from tlkeras.cached.features import forward_pass
from tlkeras.cached.features import split_validation
from tlkeras.cached.head_training import fit_head
from tlkeras.cached.head_training import head_steps_per_execution


def fit_cached(
    model: keras.Model,
    x=None,
    y=None,
    *,
    epochs: int = 1,
    batch_size: Optional[int] = None,
    validation_data=None,
    augment_copies: Optional[int] = None,
    cache_dir: Optional[str] = None,
    callbacks=None,
    shuffle: bool = True,
    verbose="auto",
    steps_per_execution: Optional[int] = None,
    **fit_kwargs,
) -> keras.callbacks.History:
    """Train the head of a frozen-base model on features computed once.

    With the base frozen, `model.fit` runs the preprocessing and the base
    on every batch of every epoch to get the same features again. This
    runs them once over the training (and validation) data, with a Keras
    progress bar, then trains the model's own head layers on the features
    with `fit`: the usual callbacks (they see the full model), History,
    the model's optimizer, loss and metrics. Afterwards the model itself
    predicts with the trained head.

    Random augmentation and cached features do not mix (the cache would
    freeze one random draw): data that augments is refused unless
    `augment_copies=k`, which caches `k` augmented passes (`k` times the
    examples, each a different draw). Data augments when it comes from
    `tlkeras.data` with `augment=` or its `tf.data` pipeline draws random
    numbers anywhere (`tlkeras.cached.augments`); shuffling is fine. A
    pipeline that cannot be read (a Python generator, `py_function`) is
    taken as it is: pass `augment_copies` if yours augments.

    Args:
        model: a compiled `tlkeras.TransferModel` whose base is frozen
            (`freeze="base"`).
        x: training inputs (arrays, with `y`) or a `tf.data.Dataset` of
            `(inputs, labels)` batches.
        y: labels for array inputs. Defaults to `None`.
        epochs: int. Defaults to `1`.
        batch_size: int, the batch size of head training (and of the
            feature pass over arrays). Defaults to the dataset's own batch
            size, or `32` for arrays.
        validation_data: `(x, y)` or a dataset, as `fit` takes it. Defaults
            to `None`.
        augment_copies: int or `None`, cache this many augmented passes of
            `x`. Defaults to `None`.
        cache_dir: a folder or `None`: keep the features in a file
            (`tf.data.Dataset.save`) in a fresh subfolder there (removed
            afterwards) instead of in memory, for data whose features do
            not fit.
            Defaults to `None`.
        callbacks: list of callbacks. Defaults to `None`.
        shuffle: bool, reshuffle the features every epoch. Defaults to
            `True`.
        verbose: as `fit` (progress of the feature pass too). Defaults to
            `"auto"`.
        steps_per_execution: int, head-training steps per graph call, as in
            `compile`: batch-level callbacks are then called every that
            many batches. A head's step is so small that the call itself
            dominates it. Defaults to the model's own setting when above 1,
            else `16`.
        **fit_kwargs: passed to `fit` (`initial_epoch`, `class_weight`...).

    Returns:
        A `keras.callbacks.History`.

    Example:

    >>> import numpy as np, tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "mobilenet_v2", 2, input_shape=(32, 32, 3), weights=None,
    ...     base_kwargs={"alpha": 0.35})
    >>> model.compile()
    >>> x = np.random.rand(8, 32, 32, 3) * 255; y = np.arange(8) % 2
    >>> history = tlk.strategies.fit_cached(model, x, y, epochs=3, verbose=0)
    >>> len(history.epoch)
    3
    """
    _check_model(model)
    _check_augmentation(x, augment_copies)
    if batch_size is None:
        batch_size = batch_size_of(x)
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(
                f"`{name}` must be an int >= 1. Received: {name}={value!r}"
            )
    fit_kwargs["steps_per_execution"] = head_steps_per_execution(
        model, steps_per_execution
    )
    extractor = extractor_of(model)
    quiet = 0 if verbose == 0 else 1
    cache = FeatureCache()
    copies = augment_copies or 1
    if cache_dir is not None:
        return _fit_from_file(
            model,
            extractor,
            x,
            y,
            copies=copies,
            validation_data=validation_data,
            cache_dir=cache_dir,
            batch_size=batch_size,
            quiet=quiet,
            epochs=epochs,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=shuffle,
            **fit_kwargs,
        )
    train, validation = cache.get_both(
        extractor,
        x,
        y,
        validation_data,
        batch_size=batch_size,
        copies=copies,
        verbose=quiet,
    )
    return fit_head(
        model,
        train,
        validation=validation,
        batch_size=batch_size,
        callbacks=callbacks,
        shuffle=shuffle,
        epochs=epochs,
        verbose=verbose,
        **fit_kwargs,
    )


def _check_model(model):
    if not hasattr(model, "head") or not hasattr(model, "base"):
        raise TypeError(
            "fit_cached trains a tlkeras model's head (a TransferModel from "
            f"tlkeras.build_classifier & co.). Received: {model!r}"
        )
    if isinstance(getattr(model.head, "heads", None), dict):
        raise TypeError(
            "fit_cached trains one head; a multi-task model's heads train "
            "with `model.fit` (cached features for several heads are not "
            f"supported yet). Received the heads {list(model.head.heads)}."
        )
    base_groups, _ = freezing.split_head_groups(model)
    trained = [g.name for g in base_groups if g.trainable]
    if trained:
        raise ValueError(
            "fit_cached needs a frozen base (the features must not change "
            f"during training), but these base groups train: {trained}. "
            "Freeze them with `tlkeras.freezing.freeze_base(model)` (or "
            "build with freeze='base'), or train with `model.fit`."
        )


def _check_augmentation(x, copies):
    augmented = augments(x)
    if copies is not None and (
        not isinstance(copies, int) or isinstance(copies, bool) or copies < 1
    ):
        raise ValueError(
            "`augment_copies` must be an int >= 1 or None. Received: "
            f"augment_copies={copies!r}"
        )
    if augmented and copies is None:
        raise ValueError(
            "This dataset augments at random (it is built with `augment=`, "
            "or its pipeline draws random numbers), and cached features "
            "would freeze one random draw for every epoch. Pass "
            "`augment_copies=k` to cache k augmented passes "
            "(`augment_copies=1`: one pass, as it comes), or train on data "
            "without random augmentation."
        )
    if copies is not None and copies > 1 and not isinstance(x, tf.data.Dataset):
        raise ValueError(
            f"augment_copies={copies} asks for augmented copies of arrays, "
            "which would be identical: pass a dataset that augments."
        )


def _fit_from_file(
    model,
    extractor,
    x,
    y,
    *,
    copies,
    validation_data,
    cache_dir,
    batch_size,
    quiet,
    shuffle,
    **fit_kwargs,
):
    os.makedirs(cache_dir, exist_ok=True)
    folder = tempfile.mkdtemp(prefix="tlkeras-features-", dir=cache_dir)
    forward = forward_pass(extractor)  # one trace for both passes
    try:
        train, count = _file_features(
            forward,
            extractor,
            x,
            y,
            batch_size,
            copies,
            folder,
            "training",
            quiet,
        )
        if shuffle:
            train = train.unbatch().shuffle(count).batch(batch_size)
            steps = -(-count // batch_size)
            # Known length: Keras's progress bar and no end-of-data warning.
            train = train.apply(tf.data.experimental.assert_cardinality(steps))
        validation = None
        if validation_data is not None:
            vx, vy = split_validation(validation_data)
            validation, _ = _file_features(
                forward,
                extractor,
                vx,
                vy,
                batch_size,
                1,
                folder,
                "validation",
                quiet,
            )
        return fit_head(
            model,
            train.prefetch(tf.data.AUTOTUNE),
            validation=validation,
            **fit_kwargs,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _file_features(
    forward, extractor, x, y, batch_size, copies, folder, label, quiet
):
    """A dataset of feature batches saved to a file by `tf.data`'s
    `Dataset.save`, filled by one pass (per copy, `forward`: the
    extractor's `forward_pass`) with a progress bar."""
    data = batches(x, y, batch_size)
    if quiet:
        print(f"Computing {label} features into {folder}:")
    progress = keras.utils.Progbar(None, verbose=quiet, unit_name="batch")
    count = steps = 0

    def generate():
        nonlocal count, steps
        for _ in range(copies):
            for inputs, labels in data:
                features = forward(inputs)
                count += int(features.shape[0])
                steps += 1
                progress.update(steps)
                yield keras.ops.convert_to_numpy(features), np.asarray(labels)

    spec = extractor.output_shape[1:]
    label_spec = data.element_spec[1]
    path = os.path.join(folder, label)
    # `save`/`load` rather than `cache(path)`: TensorFlow's file cache logs
    # a false "did not fully read the dataset being cached" warning after
    # every complete pass (tensorflow/tensorflow#60174). One shard: `load`
    # reads the batches back in the order they were computed.
    tf.data.Dataset.from_generator(
        generate,
        output_signature=(
            tf.TensorSpec((None,) + tuple(spec), "float32"),
            tf.TensorSpec(
                (None,) + tuple(label_spec.shape[1:]), label_spec.dtype
            ),
        ),
    ).save(path, shard_func=lambda *_: tf.constant(0, tf.int64))
    progress.update(steps, finalize=True)
    # The file is complete: the dataset reads it, with a length.
    dataset = tf.data.Dataset.load(path)
    return dataset.apply(tf.data.experimental.assert_cardinality(steps)), count
