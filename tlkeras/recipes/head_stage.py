"""The head stage of the default recipe: the head trained to convergence on
features the frozen base computed once.

Kumar et al. 2022 (LP-FT): fine-tuning from a head that has not converged
distorts the pretrained features. On cached features convergence is cheap
(a MobileNetV2 epoch of 244 photos costs 0.03 s instead of 1 s), so the
head trains until its validation loss stops improving, not for a fixed
epoch or two.
"""

from typing import Optional

import keras
import numpy as np

from tlkeras import freezing
from tlkeras.cached import AUGMENTED_COPIES
from tlkeras.cached import FeatureCache
from tlkeras.cached import augments
from tlkeras.cached import extractor_of
from tlkeras.cached import fit_head
from tlkeras.cached.features import batch_size_of
from tlkeras.recipes.stages import compile_for
from tlkeras.recipes.target import stratified_split


def train_head(
    model: keras.Model,
    x,
    y=None,
    validation_data=None,
    *,
    lr: float = 1e-3,
    max_epochs: int = 200,
    patience: int = 10,
    holdout: float = 0.2,
    batch_size: Optional[int] = None,
    seed: int = 0,
    loss="auto",
    metrics="auto",
    callbacks=None,
    verbose="auto",
) -> keras.callbacks.History:
    """Train `model`'s head, base frozen, until its validation loss stops
    improving, on features computed once.

    With `validation_data`, the head trains on all of `x` and the epoch of
    lowest validation loss is kept (stopping `patience` epochs after it).
    Without, a stratified `holdout` share of the training features finds
    that epoch count; the head then starts again from its initial weights
    and trains on all of `x` for that many epochs. Data that augments
    (`tlkeras.data` with `augment=`, or a pipeline that draws random
    numbers: `tlkeras.cached.augments`) is cached as `AUGMENTED_COPIES`
    augmented passes, and then needs `validation_data` (a held-out share of
    augmented copies would hold copies of training images).

    Args:
        model: a `tlkeras.TransferModel`; its base is frozen here.
        x, y: training data, as `fit` takes it.
        validation_data: as `fit` takes it, or `None`. Defaults to `None`.
        lr: float, Adam's rate. Defaults to `1e-3`.
        max_epochs: int, at most this many epochs. Defaults to `200`.
        patience: int, epochs without improvement before stopping.
            Defaults to `10`.
        holdout: float in (0, 1), without `validation_data`. Defaults to
            `0.2`.
        batch_size: int or `None` (the dataset's, or 32). Defaults to
            `None`.
        seed: int, for the holdout split. Defaults to `0`.
        loss, metrics: as `compile`; `"auto"` follows the model's task.
        callbacks: callbacks of the training that is kept. Defaults to
            `None`.
        verbose: as `fit`; unless `0`, a line also says when the best
            epoch was the last one allowed (the loss still falling at
            `max_epochs`). Defaults to `"auto"`.

    Returns:
        The `History` of the training kept; `history.converged_epochs` is
        the number of epochs it chose, `history.best_epoch` the epoch
        (0-based) whose head the model keeps when `validation_data` chose
        it (`None` without: the head is retrained on all of `x`).

    Example:

    >>> import numpy as np, tlkeras as tlk
    >>> base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)])
    >>> model = tlk.build_classifier(base, 2)
    >>> x = np.random.rand(40, 4).astype("float32"); y = np.arange(40) % 2
    >>> history = tlk.recipes.train_head(model, x, y, verbose=0)
    >>> history.converged_epochs >= 1
    True
    """
    _check(max_epochs=max_epochs, patience=patience, holdout=holdout)
    check_holdout(x, validation_data)
    augmented = augments(x)
    freezing.apply(model, "base")
    compile_for(model, keras.optimizers.Adam(lr), loss, metrics)
    quiet = 0 if verbose == 0 else 1
    extractor = extractor_of(model)
    cache = FeatureCache()
    batch_size = batch_size or batch_size_of(x)
    (features, labels), validation = cache.get_both(
        extractor,
        x,
        y,
        validation_data,
        batch_size=batch_size,
        copies=AUGMENTED_COPIES if augmented else 1,
        verbose=quiet,
    )
    options = dict(batch_size=batch_size, verbose=verbose)
    if validation is not None:
        best = _BestHead(patience)
        history = fit_head(
            model,
            (features, labels),
            validation=validation,
            epochs=max_epochs,
            callbacks=[best] + list(callbacks or []),
            **options,
        )
        history.best_epoch = best.restore()
        history.converged_epochs = history.best_epoch + 1
        _say_if_capped(
            history.converged_epochs, max_epochs, verbose, "validation loss"
        )
        return history
    fit_index, held_index = stratified_split(labels, holdout, seed)
    initial = [np.array(v) for v in model.head.get_weights()]
    best = _BestHead(patience)
    fit_head(
        model,
        (features[fit_index], labels[fit_index]),
        validation=(features[held_index], labels[held_index]),
        epochs=max_epochs,
        callbacks=[best],
        **dict(options, verbose=0),
    )
    epochs = best.restore() + 1
    _say_if_capped(epochs, max_epochs, verbose, "held-out loss")
    # Again from the start, on all the data, for as long as it took.
    model.head.set_weights(initial)
    compile_for(model, keras.optimizers.Adam(lr), loss, metrics)
    history = fit_head(
        model,
        (features, labels),
        epochs=epochs,
        callbacks=callbacks,
        **options,
    )
    history.converged_epochs = epochs
    history.best_epoch = None  # the last epoch's head, trained on all data
    return history


def _say_if_capped(epochs, max_epochs, verbose, measure) -> None:
    """A line when the best epoch was the last allowed: the loss was still
    falling, so "converged" would overstate it."""
    if verbose != 0 and epochs == max_epochs:
        print(
            f"train_head: the head's {measure} was still improving at epoch "
            f"{max_epochs} (max_epochs): it may not have converged; raise "
            "max_epochs (max_head_epochs in fine_tune) or lr."
        )


def check_holdout(x, validation_data) -> None:
    """Refuse to hold out a share of data that augments at random."""
    if validation_data is None and augments(x):
        raise ValueError(
            "This training data augments at random, so a share held out of "
            "its cached copies would hold copies of training images. Pass "
            "`validation_data`, or an int number of head epochs."
        )


class _BestHead(keras.callbacks.Callback):
    """Early stopping on `val_loss` that keeps the best epoch's head (the
    base is frozen: copying it every improvement would cost its size)."""

    def __init__(self, patience):
        super().__init__()
        self.patience = patience
        self.best = np.inf
        self.best_epoch = 0
        self.weights = None

    def on_epoch_end(self, epoch, logs=None):
        value = float((logs or {}).get("val_loss", np.nan))
        if value < self.best:
            self.best, self.best_epoch = value, epoch
            self.weights = self.model.head.get_weights()
        elif epoch - self.best_epoch >= self.patience:
            self.model.stop_training = True

    def restore(self) -> int:
        if self.weights is not None:
            self.model.head.set_weights(self.weights)
        return self.best_epoch


def _check(*, max_epochs, patience, holdout):
    for name, value in (("max_epochs", max_epochs), ("patience", patience)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(
                f"`{name}` must be an int >= 1. Received: {name}={value!r}"
            )
    if not isinstance(holdout, float) or not 0.0 < holdout < 1.0:
        raise ValueError(
            "`holdout` must be a float in (0, 1). Received: "
            f"holdout={holdout!r}"
        )
