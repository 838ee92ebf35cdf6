"""Epoch time of `tlk.strategies.fit_cached` against `model.fit` on the same
frozen-base model, and the epochs after which caching pays.

MobileNetV2 (alpha 0.35; ImageNet weights from the assets file when
present, else random: the timing is the same) at 160 px, a linear head,
512 images, batch 32. `model.fit` runs the frozen base on every batch of
every epoch; `fit_cached` runs it once, then trains the head on the
features. The steady epoch time of each is the median of its epochs after
the first (timed inside `fit` by a callback), so tracing and the feature
pass fall out; what caching costs up front beyond `fit`'s own first epoch
is reported separately, and the break-even is that cost / (fit epoch -
cached epoch).
"keras pieces" is the same by hand in plain Keras (predict pooled features,
fit a Dense layer), for scale. Rounds rotate the order of the three;
figures are medians over rounds.

    python benchmarks/bench_fit_cached.py [--rounds 3]
"""

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _timing import EpochTimer  # noqa: E402
from _timing import add_assets_argument  # noqa: E402
from _timing import interleaved  # noqa: E402

import tlkeras as tlk  # noqa: E402

WEIGHTS = (
    "weights/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
)
SHAPE = (160, 160, 3)


def build(weights):
    model = tlk.build_classifier(
        "mobilenet_v2",
        2,
        input_shape=SHAPE,
        weights=weights,
        base_kwargs={"alpha": 0.35},
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def run(kind, weights, x, y, epochs):
    """(total seconds, steady seconds per epoch: the median of the epochs
    after the first, which traces)."""
    timer = EpochTimer()
    if kind == "keras pieces":
        base = keras.applications.MobileNetV2(
            input_shape=SHAPE,
            alpha=0.35,
            include_top=False,
            weights=weights,
            pooling="avg",
        )
    else:
        model = build(weights)
    start = time.perf_counter()
    if kind == "keras pieces":
        # What a user writes by hand in plain Keras: predict the pooled
        # features once, fit a Dense layer on them.
        features = base.predict(
            keras.applications.mobilenet_v2.preprocess_input(x.copy()),
            batch_size=32,
            verbose=0,
        )
        probe = keras.Sequential(
            [keras.Input(features.shape[1:]), keras.layers.Dense(2, "softmax")]
        )
        probe.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        probe.fit(
            features,
            y,
            batch_size=32,
            epochs=epochs,
            verbose=0,
            callbacks=[timer],
        )
    elif kind == "fit":
        model.fit(
            x, y, batch_size=32, epochs=epochs, verbose=0, callbacks=[timer]
        )
    else:
        tlk.strategies.fit_cached(
            model,
            x,
            y,
            batch_size=32,
            epochs=epochs,
            verbose=0,
            callbacks=[timer],
        )
    total = time.perf_counter() - start
    return total, statistics.median(timer.seconds[1:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_assets_argument(parser)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=512)
    args = parser.parse_args()
    path = Path(args.assets) / WEIGHTS
    weights = str(path) if path.is_file() else None
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (args.images,) + SHAPE).astype("float32")
    y = rng.integers(0, 2, args.images)
    epochs = {"fit": 4, "fit_cached": 21, "keras pieces": 21}
    runs = interleaved(
        lambda kind: run(kind, weights, x, y, epochs[kind]), epochs, args.rounds
    )
    # (total, steady) per round -> steady epochs, and the rest of the time.
    marginal = {k: [steady for _, steady in v] for k, v in runs.items()}
    fixed = {
        k: [total - epochs[k] * steady for total, steady in v]
        for k, v in runs.items()
    }
    fit_epoch = statistics.median(marginal["fit"])
    cached_epoch = statistics.median(marginal["fit_cached"])
    # What caching costs up front (the feature pass, tracing the head)
    # beyond what fit's own first epoch costs (tracing the whole model).
    overhead = statistics.median(fixed["fit_cached"]) - statistics.median(
        fixed["fit"]
    )
    ratios = [a / b for a, b in zip(marginal["fit"], marginal["fit_cached"])]
    print(
        f"keras {keras.__version__}, MobileNetV2 0.35 at {SHAPE[0]} px, "
        f"{args.images} images, batch 32, weights "
        f"{'from ' + path.name if weights else 'random'}, "
        f"{args.rounds} rounds"
    )
    print(f"{'':28} {'median':>9}  all rounds")
    for kind in epochs:
        rounds = " ".join(f"{v:.3f}" for v in marginal[kind])
        print(
            f"{kind + ' s/epoch':28} "
            f"{statistics.median(marginal[kind]):9.3f}  {rounds}"
        )
    print(
        f"{'fit / fit_cached':28} {statistics.median(ratios):8.1f}x  "
        + " ".join(f"{r:.1f}x" for r in ratios)
        + "   (goal >= 25x)"
    )
    pieces = [a / b for a, b in zip(marginal["fit"], marginal["keras pieces"])]
    print(
        f"{'fit / keras pieces':28} {statistics.median(pieces):8.1f}x  "
        + " ".join(f"{r:.1f}x" for r in pieces)
    )
    print(f"{'fixed cost of caching (s)':28} {overhead:9.2f}")
    print(
        f"{'break-even (epochs)':28} "
        f"{max(overhead, 0.0) / (fit_epoch - cached_epoch):9.2f}"
    )


if __name__ == "__main__":
    main()
