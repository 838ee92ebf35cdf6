"""The cost of unfreezing mid-training: tlkeras against plain Keras.

MobileNetV2 (alpha 0.35, 96 px, 1024 images, batch 32, Adam), head trained
first, then five transitions that each unfreeze one more base group (from
the head side: the same layers both ways). In one process, `--rounds`
rounds, each a block per way (so that one model's allocations do not show
in the other's memory figures), the order alternating between rounds:

  tlkeras:     a `tlk.build_classifier` model; `apply(model, TrainTop(k))`
               (no recompile; the optimizer keeps the state of the groups
               already training);
  plain Keras: the same network built by hand; set `layer.trainable`,
               `compile` again with a new optimizer (the Keras guide's way;
               the optimizer state is lost).

For each transition: the one-off cost (the first epoch after it minus a
steady epoch after it, in seconds and in steady epochs) and the growth of
the process's resident memory across it, as the median over rounds with
their range. Unfreezing deeper groups needs
more memory for the backward pass, so part of that growth is the working
set, not a leak; the leak is measured apart: `--toggles` more transitions
back and forth between the last two states, and the net RSS growth per
transition over their second half (the first settles the allocator;
bound: 10 MiB).

    python benchmarks/bench_unfreezing.py [--images 1024] [--rounds 3]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _timing import fit_seconds  # noqa: E402
from _timing import rss_mib  # noqa: E402

import tlkeras as tlk  # noqa: E402

SHAPE = (96, 96, 3)


def tlkeras_model():
    return tlk.build_classifier(
        "mobilenet_v2",
        5,
        input_shape=SHAPE,
        weights=None,
        base_kwargs={"alpha": 0.35},
        freeze="base",
        # As the plain model: BN statistics fixed (random weights would
        # otherwise make tlkeras's default "train").
        bn="frozen",
    )


def plain_model():
    base = keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=SHAPE, alpha=0.35
    )
    base.trainable = False
    inputs = keras.Input(SHAPE)
    x = keras.applications.mobilenet_v2.preprocess_input(inputs)
    x = keras.layers.GlobalAveragePooling2D()(base(x))
    outputs = keras.layers.Dense(5, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.base = base
    return model


_NAMES = {}


def top_group_layer_names(k):
    """Layer names of the top `k` base groups (tlkeras's split)."""
    if k not in _NAMES:
        groups = tlk.layer_groups(tlkeras_model())[:-1]
        _NAMES[k] = {
            layer.name for g in groups[len(groups) - k :] for layer in g.layers
        }
    return _NAMES[k]


def plain_transition(model, k):
    train = top_group_layer_names(k)
    model.base.trainable = True
    for layer in model.base.layers:
        layer.trainable = layer.name in train and not isinstance(
            layer, keras.layers.BatchNormalization
        )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-4),
        loss="sparse_categorical_crossentropy",
    )


def tlkeras_transition(model, k):
    tlk.freezing.apply(model, tlk.freezing.TrainTop(k))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--transitions", type=int, default=5)
    parser.add_argument("--toggles", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (args.images,) + SHAPE).astype("float32")
    y = rng.integers(0, 5, args.images)

    for k in range(1, args.transitions + 1):
        top_group_layer_names(k)  # build the reference models up front
    ways = {
        "tlkeras": (tlkeras_model, tlkeras_transition),
        "plain Keras": (plain_model, plain_transition),
    }
    # (way, k) -> per-round (cost s, cost in epochs, RSS growth MiB)
    samples = {(w, k): [] for w in ways for k in range(1, args.transitions + 1)}
    trainable, leaks = {}, {}
    order = list(ways)
    for round_ in range(args.rounds):
        for name in order:
            build, transition = ways[name]
            model = build()
            model.compile(
                optimizer=keras.optimizers.Adam(1e-4),
                loss="sparse_categorical_crossentropy",
            )
            fit_seconds(model, x, y)  # trace and warm up
            fit_seconds(model, x, y)
            for k in range(1, args.transitions + 1):
                before = rss_mib()
                start = time.perf_counter()
                transition(model, k)
                first = time.perf_counter() - start + fit_seconds(model, x, y)
                steady = statistics.median(
                    fit_seconds(model, x, y) for _ in range(2)
                )
                grown = rss_mib() - before
                count = len(model.trainable_variables)
                # The same work both ways, or the comparison means nothing.
                assert trainable.setdefault(k, count) == count, (name, k)
                samples[(name, k)].append(
                    (first - steady, (first - steady) / steady, grown)
                )
            if round_ == args.rounds - 1:
                # Back and forth between the last two states; the growth
                # over the second half (the first settles the allocator).
                half = args.toggles // 2
                for i in range(args.toggles):
                    if i == half:
                        start_rss = rss_mib()
                    k = args.transitions - (1 if i % 2 == 0 else 0)
                    transition(model, k)
                    fit_seconds(model, x, y)
                leaks[name] = (rss_mib() - start_rss) / (args.toggles - half)
            del model
        order.reverse()
    print(
        f"keras {keras.__version__}, {args.images} images, batch 32, "
        f"{args.rounds} rounds (median, range)"
    )
    print(
        f"{'k':>2} {'way':12} {'trainable':>9} {'cost (s)':>18} "
        f"{'epochs':>7} {'RSS +MiB':>20}"
    )

    def spread(values, digits):
        return (
            f"{statistics.median(values):.{digits}f} "
            f"({min(values):.{digits}f}-{max(values):.{digits}f})"
        )

    for k in range(1, args.transitions + 1):
        for name in ways:
            costs, epochs, grown = zip(*samples[(name, k)])
            print(
                f"{k:>2} {name:12} {trainable[k]:>9} {spread(costs, 2):>18} "
                f"{statistics.median(epochs):7.2f} {spread(grown, 1):>20}"
            )
    medians = {}
    for name in ways:
        costs = [
            c
            for k in range(1, args.transitions + 1)
            for c, _, _ in samples[(name, k)]
        ]
        medians[name] = statistics.median(costs)
        verdict = "within" if leaks[name] < 10 else "over"
        last = args.toggles - args.toggles // 2
        print(
            f"{name}: median cost {medians[name]:.2f} s over all transitions "
            f"and rounds; leak over the last {last} of {args.toggles} "
            f"back-and-forth transitions {leaks[name]:+.1f} MiB each "
            f"({verdict} the 10 MiB bound)"
        )
    ratio = medians["plain Keras"] / medians["tlkeras"]
    print(f"tlkeras transitions cost {ratio:.2f}x less than plain Keras")


if __name__ == "__main__":
    main()
