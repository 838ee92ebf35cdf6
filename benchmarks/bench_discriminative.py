"""Training throughput with per-group learning rates.

MobileNetV2 (alpha 0.35, 96 px, 1024 images, batch 32), whole network
fine-tuned (BatchNormalization frozen), trained with:

  (a) plain Keras: one Adam at one rate for every layer: no per-group
      rates at all, the cost floor;
  (b) keras.optimizers.MultiOptimizer: one Adam per layer group, mapped by
      a regex over variable paths;
  (c) tlk.training.discriminative: one Adam per layer group.

The three models are the same network with the same weights ((b) and (c)
give bit-identical weights: tests/training/test_group_optimizer.py). Each
round times `--epochs` steady-state epochs of each, interleaved, the order
rotated every round. The table gives the median throughput, its ratio to
(a)'s and (b)'s (so the columns agree: above 1 is faster), and the range
of the paired per-round ratios.

    python benchmarks/bench_discriminative.py [--rounds 5] [--epochs 2]
"""

import argparse
import os
import re
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _timing import fit_seconds  # noqa: E402
from _timing import interleaved  # noqa: E402

import tlkeras as tlk  # noqa: E402

SHAPE = (96, 96, 3)


def build(weights=None):
    model = tlk.build_classifier(
        "mobilenet_v2",
        5,
        input_shape=SHAPE,
        weights=None,
        base_kwargs={"alpha": 0.35},
        freeze="none",
        # BN statistics fixed, as the docstring says (random weights would
        # otherwise make tlkeras's default "train").
        bn="frozen",
    )
    if weights is not None:
        model.set_weights(weights)
    return model


def keras_multi_optimizer(model, rates):
    groups = tlk.layer_groups(model)
    mapping = {}
    for group, rate in zip(groups, rates):
        names = "|".join(
            re.escape(layer.name) for layer in group.layers if layer.weights
        )
        if names:
            mapping[f"(?:{names})/.*"] = keras.optimizers.Adam(rate)
    head = mapping.pop(next(reversed(mapping)))
    return keras.optimizers.MultiOptimizer(
        keras.optimizers.OptimizerMap(head, mapping)
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--images", type=int, default=1024)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (args.images,) + SHAPE).astype("float32")
    y = rng.integers(0, 5, args.images)

    first = build()
    weights = first.get_weights()
    rates = [
        1e-3 * 0.5**k for k in reversed(range(len(tlk.layer_groups(first))))
    ]
    models = {
        "(a) one Adam, one rate": first,
        "(b) keras MultiOptimizer": build(weights),
        "(c) tlk discriminative": build(weights),
    }
    optimizers = {
        "(a) one Adam, one rate": keras.optimizers.Adam(1e-3),
        "(b) keras MultiOptimizer": keras_multi_optimizer(
            models["(b) keras MultiOptimizer"], rates
        ),
        "(c) tlk discriminative": tlk.training.discriminative(
            models["(c) tlk discriminative"], "adam", lr=1e-3, decay=0.5
        ),
    }
    for name, model in models.items():
        model.compile(
            optimizer=optimizers[name], loss="sparse_categorical_crossentropy"
        )
        fit_seconds(model, x, y)  # trace, build the optimizer, warm up
    print(
        f"keras {keras.__version__}, {args.images} images, {args.rounds} "
        f"rounds of {args.epochs} epochs, batch 32, "
        f"{len(rates)} groups"
    )
    times = interleaved(
        lambda name: fit_seconds(models[name], x, y, epochs=args.epochs),
        models,
        args.rounds,
    )
    plain = statistics.median(times["(a) one Adam, one rate"])
    multi = statistics.median(times["(b) keras MultiOptimizer"])
    print(
        f"{'optimizer':26} {'img/s':>8} {'vs (a)':>8} {'vs (b)':>8}  "
        "paired vs (a), range"
    )
    for name, seconds in times.items():
        median = statistics.median(seconds)
        paired = [
            a / b for a, b in zip(times["(a) one Adam, one rate"], seconds)
        ]
        print(
            f"{name:26} {args.images / median:8.1f} {plain / median:7.3f}x "
            f"{multi / median:7.3f}x  {min(paired):.3f}-{max(paired):.3f}x"
        )


if __name__ == "__main__":
    main()
