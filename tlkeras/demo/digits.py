"""The embedded study: digits 0-4 as the source task, 5-9 as the target."""

import keras
import numpy as np

from tlkeras.builders import build_classifier
from tlkeras.demo.study import StudySettings
from tlkeras.demo.study import format_table
from tlkeras.demo.study import run_study
from tlkeras.demo.study import write_report


def load_digits_split(labels_per_class: int = 3, seed: int = 0):
    """scikit-learn's 8x8 digits as images in [0, 255], split for transfer.

    Returns:
        `(source, target_train, target_test)`, each `(x, y)`: the source
        task is digits 0-4 (all of them), the target task digits 5-9
        relabelled 0-4, with `labels_per_class` training images per class
        and the rest for testing.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images[..., None] * (255.0 / 16.0)).astype("float32")
    y = digits.target
    source = (x[y < 5], y[y < 5])
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for label in range(5, 10):
        idx = rng.permutation(np.flatnonzero(y == label))
        train_idx += list(idx[:labels_per_class])
        test_idx += list(idx[labels_per_class:])
    train_idx = rng.permutation(train_idx)
    target_train = (x[train_idx], y[train_idx] - 5)
    target_test = (x[test_idx], y[test_idx] - 5)
    return source, target_train, target_test


def small_cnn(name: str = "digits_cnn") -> keras.Model:
    """The demo's base: three conv-BN-ReLU blocks on 8x8x1 raw pixels."""
    inputs = keras.Input((8, 8, 1), name="pixels")
    x = keras.layers.Rescaling(1 / 255.0, name="rescale")(inputs)
    for i, (filters, pool) in enumerate([(32, False), (64, True), (64, False)]):
        x = keras.layers.Conv2D(
            filters, 3, padding="same", name=f"conv{i + 1}"
        )(x)
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"bn{i + 1}")(x)
        x = keras.layers.ReLU(name=f"relu{i + 1}")(x)
        if pool:
            x = keras.layers.MaxPooling2D(name=f"pool{i + 1}")(x)
    return keras.Model(inputs, x, name=name)


def pretrain_source(source, *, epochs: int = 15, verbose: int = 2):
    """Train `small_cnn` on the source task; return its base."""
    model = build_classifier(small_cnn(), 5, freeze="none", bn="train")
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(*source, epochs=epochs, batch_size=32, verbose=verbose)
    return model.base


def run_digits_study(
    out_dir: str,
    *,
    labels_per_class: int = 3,
    seed: int = 0,
    verbose: int = 2,
    log=print,
) -> list:
    """Run the embedded transfer study and write its report into `out_dir`.

    Pretrains a small CNN on digits 0-4, then learns digits 5-9 from
    `labels_per_class` labelled images per class four ways: from scratch,
    by feature extraction (frozen base), by fine-tuning (head first, then
    the whole network at a lower rate) and by `tlkeras.recipes.fine_tune`
    with its defaults. Prints a table and writes
    `results.json` and `learning_curves.png`.

    Example:

    >>> # results = run_digits_study("runs/demo")
    """
    keras.utils.set_random_seed(seed)
    source, train, test = load_digits_split(labels_per_class, seed)
    log(
        f"Source task: digits 0-4, {len(source[1])} images. Target task: "
        f"digits 5-9, {len(train[1])} labelled images for training, "
        f"{len(test[1])} for testing."
    )
    log("\n=== pretraining on the source task ===")
    pretrained = pretrain_source(source, verbose=verbose)

    # The source BN statistics are those of digits 0-4, and the target
    # batches are representative, so fine-tuning lets BN adapt (bn="train");
    # for ImageNet bases the photo study keeps the default bn="frozen".
    settings = StudySettings(
        fine_tune_lr=3e-3, fine_tune_bn="train", verbose=verbose
    )
    results = run_study(pretrained, train, test, settings, seed=seed, log=log)
    title = f"digits 0-4 -> 5-9, {labels_per_class} labels per class"
    paths = write_report(results, out_dir, title)
    log(f"\n{title}\n{format_table(results)}")
    log(f"\nWrote {paths['results']} and {paths['plot']}")
    return results
