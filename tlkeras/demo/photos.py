"""The study on real photos: ants vs bees with real ImageNet weights."""

import os
from pathlib import Path

import keras
import numpy as np

from tlkeras.demo.study import StudySettings
from tlkeras.demo.study import format_table
from tlkeras.demo.study import run_study
from tlkeras.demo.study import write_report
from tlkeras.freezing import TrainTop

WEIGHTS = (
    "weights/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
)
DATASET = "datasets/hymenoptera"


def load_folder(folder, image_size, labels_per_class=None, seed=0):
    """Images of a class-per-subfolder tree as `(x, y, class_names)`."""
    dataset = keras.utils.image_dataset_from_directory(
        folder,
        image_size=image_size,
        batch_size=None,
        shuffle=False,
        verbose=False,
    )
    x = np.stack([image.numpy() for image, _ in dataset]).astype("float32")
    y = np.array([int(label) for _, label in dataset])
    if labels_per_class is not None:
        rng = np.random.default_rng(seed)
        keep = np.concatenate(
            [
                rng.permutation(np.flatnonzero(y == c))[:labels_per_class]
                for c in np.unique(y)
            ]
        )
        x, y = x[keep], y[keep]
    order = np.random.default_rng(seed).permutation(len(y))
    return x[order], y[order], dataset.class_names


def run_photo_study(
    out_dir: str,
    assets: str,
    *,
    labels_per_class=None,
    image_size: int = 160,
    seed: int = 0,
    verbose: int = 2,
    log=print,
) -> list:
    """Run the strategy study on the ants/bees photos in `assets`.

    MobileNetV2 (alpha 0.35) with the real ImageNet weights from
    `assets/weights/` against the same network from scratch.

    Example:

    >>> # run_photo_study("runs/photos", "../shared/assets")
    """
    assets = Path(assets)
    weights = assets / WEIGHTS
    data = assets / DATASET
    for path in (weights, data):
        if not path.exists():
            raise FileNotFoundError(
                f"The photo study needs {path}; --assets must be the folder "
                "holding weights/ and datasets/hymenoptera/. Received: "
                f"assets={str(assets)!r}"
            )
    keras.utils.set_random_seed(seed)
    size = (image_size, image_size)
    x_train, y_train, names = load_folder(
        os.fspath(data / "train"), size, labels_per_class, seed
    )
    x_test, y_test, _ = load_folder(os.fspath(data / "val"), size, None, seed)
    log(
        f"Ants vs bees ({', '.join(names)}): {len(y_train)} training and "
        f"{len(y_test)} test photos at {image_size} px; MobileNetV2 "
        "(alpha 0.35) with ImageNet weights from "
        f"{weights.relative_to(assets)}."
    )

    settings = StudySettings(
        epochs=8,
        head_epochs=4,
        batch_size=32,
        scratch_lr=1e-3,
        head_lr=1e-3,
        fine_tune_lr=1e-4,
        fine_tune=TrainTop(2),
        verbose=verbose,
    )
    results = run_study(
        "mobilenet_v2",
        (x_train, y_train),
        (x_test, y_test),
        settings,
        seed=seed,
        log=log,
        weights=os.fspath(weights),
        base_kwargs={"alpha": 0.35},
        class_names=names,
    )
    title = f"ants vs bees, MobileNetV2 0.35 at {image_size} px"
    paths = write_report(results, out_dir, title)
    log(f"\n{title}\n{format_table(results)}")
    log(f"\nWrote {paths['results']} and {paths['plot']}")
    return results
