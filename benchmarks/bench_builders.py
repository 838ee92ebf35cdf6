"""Training throughput of tlkeras models against the same plain Keras model.

Builds MobileNetV2 (alpha 0.35, 96 px) with a linear head twice: by hand in
plain Keras, and with `tlk.build_classifier`; for two set-ups (frozen base;
top two groups fine-tuned with frozen BatchNormalization). Each round times
one steady-state epoch of each model, interleaved, in rotated order; the
table gives medians and the median of the paired ratios.

    python benchmarks/bench_builders.py [--rounds 7] [--images 512] [--epochs 3]
"""

import argparse
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _timing import fit_seconds  # noqa: E402
from _timing import interleaved  # noqa: E402
from _timing import median_ratio  # noqa: E402

import tlkeras as tlk  # noqa: E402

SHAPE = (96, 96, 3)


def plain_keras(train_top_groups):
    base = keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=SHAPE, alpha=0.35
    )
    inputs = keras.Input(SHAPE)
    x = keras.applications.mobilenet_v2.preprocess_input(inputs)
    x = base(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(5, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    if train_top_groups:
        names = [layer.name for layer in base.layers]
        cut = names.index("block_13_expand")
        for layer in base.layers:
            layer.trainable = names.index(layer.name) >= cut and not isinstance(
                layer, keras.layers.BatchNormalization
            )
    else:
        base.trainable = False
    return model


def tlkeras_model(train_top_groups):
    return tlk.build_classifier(
        "mobilenet_v2",
        5,
        input_shape=SHAPE,
        weights=None,
        base_kwargs={"alpha": 0.35},
        freeze=tlk.freezing.TrainTop(2) if train_top_groups else "base",
        # As the plain model: BN statistics fixed (random weights would
        # otherwise make tlkeras's default "train").
        bn="frozen",
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument(
        "--epochs",
        type=int,
        default=3,
        help="epochs timed together per measurement",
    )
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (args.images,) + SHAPE).astype("float32")
    y = rng.integers(0, 5, args.images)
    print(
        f"keras {keras.__version__}, {args.images} images, "
        f"{args.rounds} rounds of {args.epochs} epochs, batch 32"
    )
    rows = []
    for label, top in (("frozen base", False), ("top 2 groups", True)):
        models = {
            "plain Keras": plain_keras(top),
            "tlkeras": tlkeras_model(top),
        }
        assert len(models["plain Keras"].trainable_variables) == len(
            models["tlkeras"].trainable_variables
        )
        for model in models.values():
            model.compile(
                optimizer="adam", loss="sparse_categorical_crossentropy"
            )
            fit_seconds(model, x, y)  # trace and warm up
        times = interleaved(
            lambda name: fit_seconds(models[name], x, y, epochs=args.epochs),
            models,
            args.rounds,
        )
        plain = args.images / statistics.median(times["plain Keras"])
        ours = args.images / statistics.median(times["tlkeras"])
        ratio = median_ratio(times["plain Keras"], times["tlkeras"])
        rows.append((label, plain, ours, ratio))
    print(
        f"{'set-up':14} {'plain Keras img/s':>18} {'tlkeras img/s':>14} "
        f"{'tlkeras / plain':>16}"
    )
    for label, plain, ours, ratio in rows:
        print(f"{label:14} {plain:18.1f} {ours:14.1f} {ratio:15.3f}x")


if __name__ == "__main__":
    main()
