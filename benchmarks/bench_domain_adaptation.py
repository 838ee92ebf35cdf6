"""Domain adaptation: the epoch cost of each method against plain `fit` on
the source alone, and the target accuracy of each on the shifted digits.

Cost: MobileNetV2 (alpha 0.35, 96 px, random weights, everything trains),
512 source and 512 target images, batch 32 (an adaptation step sees a
source and a target batch: twice the images). Each round times `--epochs`
steady epochs of plain `fit` and of every method, interleaved, the order
rotated; the ratios are medians of the paired ratios.

Accuracy: `tlkeras.demo.shifted_digits` (digits as the source, the other
half with pixel noise as the target), a small CNN trained 15 epochs on the
source, then 10 more epochs per method over seeds 0-2: source-only (plain
`fit`), the same adaptation training with the transfer loss weighted 0
(shared BatchNorm batches alone) and each method.

    python benchmarks/bench_domain_adaptation.py [--rounds 3] [--epochs 2]
"""

import argparse
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _timing import EpochTimer  # noqa: E402
from _timing import interleaved  # noqa: E402
from _timing import median_ratio  # noqa: E402

import tlkeras as tlk  # noqa: E402
from tlkeras import demo  # noqa: E402

SHAPE = (96, 96, 3)
METHODS = tlk.strategies.ADAPTATION_METHODS


def cost(args):
    rng = np.random.default_rng(0)
    x_source = rng.uniform(0, 255, (512,) + SHAPE).astype("float32")
    x_target = rng.uniform(0, 255, (512,) + SHAPE).astype("float32")
    y = rng.integers(0, 5, 512)
    model = tlk.build_classifier(
        "mobilenet_v2",
        5,
        input_shape=SHAPE,
        weights=None,
        base_kwargs={"alpha": 0.35},
        freeze="none",
    )
    model.compile()
    wrappers = {}
    for method in METHODS:
        wrappers[method] = tlk.strategies.DomainAdaptation(model, method)
        wrappers[method].compile()

    def epochs(name, count):
        timer = EpochTimer()
        if name == "fit":
            model.fit(
                x_source,
                y,
                batch_size=32,
                epochs=count,
                verbose=0,
                callbacks=[timer],
            )
        else:
            wrappers[name].fit(
                (x_source, x_target),
                y,
                batch_size=32,
                epochs=count,
                verbose=0,
                callbacks=[timer],
            )
        return statistics.median(timer.seconds)

    names = ["fit", *METHODS]
    for name in names:
        epochs(name, 1)  # trace, warm up
    times = interleaved(
        lambda name: epochs(name, args.epochs), names, args.rounds
    )
    print(
        f"keras {keras.__version__}, MobileNetV2 0.35 at 96 px, 512 source "
        f"+ 512 target images, batch 32, {args.rounds} rounds"
    )
    print(f"{'':8} {'s/epoch':>8} {'x fit':>6}  all rounds")
    for name in names:
        ratio = median_ratio(times[name], times["fit"])
        rounds = " ".join(f"{v:.2f}" for v in times[name])
        print(
            f"{name:8} {statistics.median(times[name]):8.2f} {ratio:6.2f}"
            f"  {rounds}"
        )
    print("goal: dann and coral under 2.2x fit")


def accuracy(args):
    (x, y), (x_target, y_target) = demo.shifted_digits()

    def score(model):
        return float(
            np.mean(model.predict(x_target, verbose=0).argmax(-1) == y_target)
        )

    keras.utils.set_random_seed(1)
    start = demo.digits_classifier()
    start.compile(optimizer=keras.optimizers.Adam(3e-3))
    start.fit(x, y, epochs=15, batch_size=64, verbose=0)
    weights = start.get_weights()
    rows = {}
    runs = [("source only", None, 0.0), ("weight 0", "coral", 0.0)]
    runs += [(m, m, 0.3 if m == "dann" else 1.0) for m in METHODS]
    for label, method, weight in runs:
        scores = []
        for seed in range(args.seeds):
            keras.utils.set_random_seed(seed)
            model = demo.digits_classifier()
            model.set_weights(weights)
            if method is None:
                model.compile(optimizer=keras.optimizers.Adam(1e-3))
                model.fit(x, y, epochs=10, batch_size=64, verbose=0)
            else:
                da = tlk.strategies.DomainAdaptation(
                    model, method, weight=weight, discriminator_units=(64, 64)
                )
                da.compile(optimizer=keras.optimizers.Adam(1e-3))
                da.fit((x, x_target), y, batch_size=64, epochs=10, verbose=0)
            scores.append(score(model))
        rows[label] = scores
    print(
        f"\nshifted digits (noise 0.3), target accuracy, seeds 0-"
        f"{args.seeds - 1}"
    )
    print(f"{'':12} {'mean':>6}  seeds")
    for label, scores in rows.items():
        seeds = " ".join(f"{s:.3f}" for s in scores)
        print(f"{label:12} {np.mean(scores):6.3f}  {seeds}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--skip-cost", action="store_true")
    args = parser.parse_args()
    if not args.skip_cost:
        cost(args)
    accuracy(args)


if __name__ == "__main__":
    main()
