"""`auto`: the recipe for the data at hand, said in one line."""

from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from tlkeras.cached.features import batch_size_of
from tlkeras.recipes.fine_tune import fine_tune
from tlkeras.recipes.fine_tune import measure_target
from tlkeras.recipes.head_stage import check_holdout
from tlkeras.recipes.head_stage import train_head
from tlkeras.recipes.target import dataset_arrays
from tlkeras.recipes.target import settings as target_settings

RECIPES = ("linear_probe", "fine_tune")

# Below this many training examples per class, `auto` trains the head
# alone on a near task: fine-tuning a base on so few examples gains little
# and can distort its features (Kumar et al. 2022; the README's recipe
# table).
PROBE_BELOW_PER_CLASS = 50


def auto(
    model: keras.Model,
    train,
    validation_data=None,
    *,
    lr: float = 1e-3,
    fine_tune_epochs: int = 5,
    batch_size: Optional[int] = None,
    callbacks=None,
    verbose="auto",
) -> keras.callbacks.History:
    """Train `model` with the recipe its data calls for, and say which and
    why in one printed line.

    First it measures how far the task is from the pretraining data
    (`fine_tune`'s `target="auto"`: fine-tuning gently or at the head's
    rate from one converged head, on held-out data), then:

    - a far task: `fine_tune(target="far")` (the converged head, then the
      whole network at `lr`, BN statistics trained);
    - a near task with fewer than `PROBE_BELOW_PER_CLASS` training examples
      per class: a linear probe on cached features (`train_head`: the base
      frozen, the head trained to convergence);
    - a near task with more: `fine_tune(target="near")` (LP-FT: the
      converged head, then the whole network at `lr / 100`, the best
      validation epoch kept).

    Args:
        model: a `tlkeras.TransferModel`.
        train: a dataset of `(inputs, labels)` batches, or `(x, y)`.
        validation_data: as `fit` takes it. Defaults to `None`.
        lr: float, the head's rate. Defaults to `1e-3`.
        fine_tune_epochs: int >= 1, of the measurement and when
            `fine_tune` is picked. Defaults to `5`.
        batch_size: int or `None` (the dataset's, or 32). Defaults to
            `None`.
        callbacks: callbacks of the training. Defaults to `None`.
        verbose: as `fit`; `0` also silences the line. Defaults to
            `"auto"`.

    For more control, call the recipe it names with your settings.

    Returns:
        The recipe's `History`; `history.recipe` names it, `history.target`
        the target measured, `history.target_losses` the held-out
        losses it was measured by and `history.best_epoch` the epoch whose
        weights the model ends with, when validation chose it.

    Example:

    >>> import numpy as np, tlkeras as tlk
    >>> base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)])
    >>> model = tlk.build_classifier(base, 2)
    >>> x = np.random.rand(20, 4).astype("float32"); y = np.arange(20) % 2
    >>> tlk.recipes.auto(model, (x, y), verbose=0).recipe in RECIPES
    True
    """
    if (
        not isinstance(fine_tune_epochs, int)
        or isinstance(fine_tune_epochs, bool)
        or fine_tune_epochs < 1
    ):
        raise ValueError(
            "`auto` measures fine-tuning, so `fine_tune_epochs` must be an "
            "int >= 1 (for the head alone, call `train_head`). Received: "
            f"fine_tune_epochs={fine_tune_epochs!r}"
        )
    x, y = train if isinstance(train, tuple) else (train, None)
    check_holdout(x, validation_data)  # before any measuring
    options = {} if batch_size is None else {"batch_size": batch_size}
    measured = (x, y)
    if isinstance(x, tf.data.Dataset) and validation_data is None:
        # The measurement holds a share of it out, as arrays: read once,
        # for the count too.
        options.setdefault("batch_size", batch_size_of(x))
        measured = dataset_arrays(x)
    count, classes = _count(*measured)
    per_class = count / max(classes, 1)
    chosen, losses = measure_target(
        model,
        measured,
        validation_data,
        candidates=target_settings("auto", lr, None, None),
        lr=lr,
        fine_tune_epochs=fine_tune_epochs,
        **options,
    )
    if chosen.name == "far":
        recipe = "fine_tune"
        why = (
            "the pretrained features suit this task poorly: the whole "
            "network re-learns them at the head's rate, BN statistics "
            "included"
        )
    elif per_class < PROBE_BELOW_PER_CLASS:
        recipe = "linear_probe"
        why = (
            f"a near task and under {PROBE_BELOW_PER_CLASS} per class: "
            "fine-tuning the base gains little and can distort its features"
        )
    else:
        recipe = "fine_tune"
        why = (
            "a near task with enough to fine-tune: the head converged "
            "first (LP-FT), then the whole network at a small rate, the "
            "best epoch kept"
        )
    if verbose != 0:
        print(
            f"tlkeras.recipes.auto: {count} training examples, "
            f"{per_class:.0f} per class, held-out loss "
            f"{losses['near']:.3g} fine-tuning gently, {losses['far']:.3g} "
            f"at the head's rate: {recipe} ({why})."
        )
    if recipe == "linear_probe":
        history = train_head(
            model,
            x,
            y,
            validation_data,
            lr=lr,
            batch_size=options.get("batch_size"),
            callbacks=callbacks,
            verbose=verbose,
        )
    else:
        history = fine_tune(
            model,
            (x, y),
            validation_data,
            lr=lr,
            fine_tune_epochs=fine_tune_epochs,
            target=chosen.name,
            callbacks=callbacks,
            verbose=verbose,
            **options,
        )
    history.recipe = recipe
    history.target = chosen.name
    history.target_losses = losses
    return history


def _count(x, y):
    """(examples, classes) of the training data: its labels read once."""
    if isinstance(x, tf.data.Dataset):
        labels = np.concatenate([np.asarray(b[1]) for b in x])
    else:
        labels = np.asarray(y)
    return len(labels), _classes_of(labels)


def _classes_of(labels: np.ndarray) -> int:
    if labels.ndim > 1 and labels.shape[-1] > 1:
        return int(labels.shape[-1])  # one-hot or multi-label
    return len(np.unique(labels))
