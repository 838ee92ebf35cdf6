"""Time per frozen-base trial: TransferHyperModel against a naive hypermodel.

Both search the same head space (RandomSearch, frozen base, linear/MLP head)
on the same data: MobileNetV2 (alpha 0.35, ImageNet weights from the assets
file: without it the script exits saying so), 96 px, 512 images, 3 epochs a
trial. The naive hypermodel is what the KerasTuner guides write: build the
base (read its weights from disk) and the head in `build`, and `fit` the
whole model every trial, running the frozen base on every batch. tlkeras
reads the weights once per process, builds one frozen base for all
frozen-base trials (each trial builds only its head) and trains the head on
features computed once. tlkeras cold is a new hypermodel in a new process
(weights and features not cached yet); tlkeras warm, the same hypermodel
searching again.

By default each search runs in a process of its own, as a user runs one:
rounds alternate a naive process and a tlkeras process (cold, then warm),
rotating which comes first, each warmed up alike on a tiny unrelated model
before timing. In one process (`--in-process`, every search after the
first) each search inherits the objects the previous ones left on the heap
(the naive loop leaves ~40,000 a trial: each traced train step stays
reachable, tensorflow/tensorflow#80895), and KerasTuner walks that heap
with two full garbage collections every trial, so each contender is
charged for the other's leak. Ratios are medians of the paired per-trial
times (naive / tlkeras).

    python benchmarks/bench_tuning.py [--rounds 3] [--trials 4] [--in-process]
"""

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import keras_tuner  # noqa: E402
import numpy as np  # noqa: E402
from _timing import add_assets_argument  # noqa: E402
from _timing import median_ratio  # noqa: E402

import tlkeras as tlk  # noqa: E402
from tlkeras.tuning import hypermodel as hypermodule  # noqa: E402

WEIGHTS = (
    "weights/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
)
SHAPE = (96, 96, 3)


class NaiveHyperModel(keras_tuner.HyperModel):
    def __init__(self, weights):
        super().__init__()
        self.weights = weights

    def build(self, hp):
        base = keras.applications.MobileNetV2(
            input_shape=SHAPE,
            alpha=0.35,
            include_top=False,
            weights=self.weights,
        )
        base.trainable = False
        inputs = keras.Input(SHAPE)
        x = keras.applications.mobilenet_v2.preprocess_input(inputs)
        x = keras.layers.GlobalAveragePooling2D()(base(x, training=False))
        if hp.Int("head_layers", 0, 1):
            x = keras.layers.Dense(hp.Choice("units", [64, 128]), "relu")(x)
        x = keras.layers.Dropout(hp.Float("dropout", 0.0, 0.5))(x)
        outputs = keras.layers.Dense(2, "softmax")(x)
        model = keras.Model(inputs, outputs)
        model.compile(
            optimizer=keras.optimizers.Adam(
                hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
            ),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model


def make_hypermodel(weights):
    return tlk.tuning.TransferHyperModel(
        "mobilenet_v2",
        2,
        input_shape=SHAPE,
        weights=weights,
        base_kwargs={"alpha": 0.35},
        search={
            "unfreeze": 0,
            "head_layers": (0, 1),
            "units": [64, 128],
            "optimizer": "adam",
            "l2": 0.0,
            "spread": 1.0,
        },
    )


def search_seconds(hypermodel, data, trials, epochs) -> float:
    (x, y), val = data
    tuner = keras_tuner.RandomSearch(
        hypermodel,
        objective="val_accuracy",
        max_trials=trials,
        directory=tempfile.mkdtemp(),
        seed=0,
        overwrite=True,
    )
    start = time.perf_counter()
    tuner.search(
        x, y, validation_data=val, epochs=epochs, batch_size=32, verbose=0
    )
    return (time.perf_counter() - start) / trials


def data_and_weights(assets):
    path = Path(assets) / WEIGHTS
    if not path.is_file():
        raise SystemExit(f"skipped: no weights file at {path} (set --assets)")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (512,) + SHAPE).astype("float32")
    y = (x[:, :, :, 0].mean((1, 2)) > 127).astype("int64")
    return ((x[:384], y[:384]), (x[384:], y[384:])), str(path)


def warm_up():
    """The same first-use costs paid in every process before timing (TF's
    first trace, first convolution, first fit), on a tiny unrelated model."""
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(2, 3),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2, "softmax"),
        ]
    )
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    x, y = np.zeros((4, 8, 8, 3)), np.zeros(4)
    model.fit(x, y, validation_data=(x, y), epochs=1, verbose=0)


def run_searches(kind, data, weights, trials, epochs) -> dict:
    """Seconds per trial and heap objects left per trial: the naive search,
    or tlkeras cold then warm."""
    if kind == "naive":
        searches = [("naive", NaiveHyperModel(weights))]
    else:
        hypermodule._PRETRAINED.clear()  # cold: nothing cached
        hm = make_hypermodel(weights)
        searches = [("tlkeras cold", hm), ("tlkeras warm", hm)]
    result = {}
    for name, hm in searches:
        gc.collect()
        before = len(gc.get_objects())
        seconds = search_seconds(hm, data, trials, epochs)
        gc.collect()
        left = (len(gc.get_objects()) - before) / trials
        result[name] = (seconds, left)
    return result


def in_own_process(kind, args) -> dict:
    command = [
        sys.executable,
        __file__,
        "--worker",
        kind,
        "--assets",
        str(args.assets),
        "--trials",
        str(args.trials),
        "--epochs",
        str(args.epochs),
    ]
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_assets_argument(parser)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--in-process", action="store_true")
    parser.add_argument(
        "--worker",
        choices=["naive", "tlkeras"],
        help="run one process's searches and print them as JSON (internal)",
    )
    args = parser.parse_args()
    data, weights = data_and_weights(args.assets)
    if args.worker:
        warm_up()
        result = run_searches(
            args.worker, data, weights, args.trials, args.epochs
        )
        print(json.dumps(result))
        return
    if args.in_process:
        warm_up()
    times = {"naive": [], "tlkeras cold": [], "tlkeras warm": []}
    leaks = {name: [] for name in times}
    order = ["naive", "tlkeras"]
    for _ in range(args.rounds):
        for kind in order:
            if args.in_process:
                result = run_searches(
                    kind, data, weights, args.trials, args.epochs
                )
            else:
                result = in_own_process(kind, args)
            for name, (seconds, left) in result.items():
                times[name].append(seconds)
                leaks[name].append(left)
        order.reverse()
    where = (
        "all in one process" if args.in_process else "each in its own process"
    )
    print(
        f"keras {keras.__version__}, MobileNetV2 0.35 at 96 px, 384 train / "
        f"128 val images, {args.trials} trials x {args.epochs} epochs, "
        f"{args.rounds} rounds, searches {where}"
    )
    print(
        f"{'hypermodel':13} {'s/trial (median)':>17} "
        f"{'heap objects left/trial':>24}  all rounds"
    )
    for name, values in times.items():
        rounds = " ".join(f"{v:.2f}" for v in values)
        left = statistics.median(leaks[name])
        print(
            f"{name:13} {statistics.median(values):17.2f} {left:24,.0f}"
            f"  {rounds}"
        )
    for kind in ("cold", "warm"):
        ratio = median_ratio(times["naive"], times[f"tlkeras {kind}"])
        print(
            f"tlkeras speed-up per frozen-base trial, {kind}: {ratio:.1f}x "
            "(goal >= 5x)"
        )
    # A cold search = a one-time cost (one feature pass) + trials at the
    # warm cost: the cold ratio grows with the trials. Where the rounds'
    # noise makes warm trials no cheaper than cold ones, there is no
    # one-time cost to report.
    naive = statistics.median(times["naive"])
    warm = statistics.median(times["tlkeras warm"])
    once = args.trials * (statistics.median(times["tlkeras cold"]) - warm)
    if once > 0:
        print(f"one-time cost of a cold search: {once:.2f} s")
    if once > 0 and naive > 5 * warm:
        needed = once / (naive / 5 - warm)
        print(f"cold searches reach 5x per trial from {needed:.0f} trials")


if __name__ == "__main__":
    main()
