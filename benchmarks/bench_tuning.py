"""Time per frozen-base trial: TransferHyperModel against a naive hypermodel.

Both search the same head space (RandomSearch, frozen base, linear/MLP head)
on the same data: MobileNetV2 (alpha 0.35, ImageNet weights from the assets
file: without it the script exits saying so), 96 px, 512 images, 3 epochs a
trial. The
naive hypermodel is what the KerasTuner guides write: build the base (read
its weights from disk) and the head in `build`, and `fit` the whole model
every trial, running the frozen base on every batch. tlkeras reads the
weights once per process, builds one frozen base for all frozen-base trials
(each trial builds only its head) and trains the head on features computed
once. Each round runs the naive search, then tlkeras cold (a new hypermodel,
weights and features not cached yet), then tlkeras warm (the same
hypermodel again: features cached), rotating which comes first. Ratios are
medians of the paired per-trial times (naive / tlkeras).

    python benchmarks/bench_tuning.py [--rounds 3] [--trials 4]
"""

import argparse
import os
import statistics
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_assets_argument(parser)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    path = Path(args.assets) / WEIGHTS
    weights = str(path) if path.is_file() else None
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (512,) + SHAPE).astype("float32")
    y = (x[:, :, :, 0].mean((1, 2)) > 127).astype("int64")
    data = ((x[:384], y[:384]), (x[384:], y[384:]))
    if weights is None:
        raise SystemExit(f"skipped: no weights file at {path} (set --assets)")
    naive = NaiveHyperModel(weights)
    times = {"naive": [], "tlkeras cold": [], "tlkeras warm": []}
    order = ["naive", "tlkeras"]
    for _ in range(args.rounds):
        for name in order:
            if name == "naive":
                times["naive"].append(
                    search_seconds(naive, data, args.trials, args.epochs)
                )
                continue
            # Cold: nothing cached, as in a new process.
            hypermodule._PRETRAINED.clear()
            hm = make_hypermodel(weights)
            for kind in ("cold", "warm"):
                times[f"tlkeras {kind}"].append(
                    search_seconds(hm, data, args.trials, args.epochs)
                )
        order.reverse()
    print(
        f"keras {keras.__version__}, MobileNetV2 0.35 at 96 px, 384 train / "
        f"128 val images, {args.trials} trials x {args.epochs} epochs, "
        f"{args.rounds} rounds"
    )
    print(f"{'hypermodel':13} {'s/trial (median)':>17}  all rounds")
    for name, values in times.items():
        rounds = " ".join(f"{v:.2f}" for v in values)
        print(f"{name:13} {statistics.median(values):17.2f}  {rounds}")
    for kind in ("cold", "warm"):
        ratio = median_ratio(times["naive"], times[f"tlkeras {kind}"])
        print(
            f"tlkeras speed-up per frozen-base trial, {kind}: {ratio:.1f}x "
            "(goal >= 5x)"
        )
    # A cold search = a one-time cost (read the weights, one feature pass)
    # + trials at the warm cost: the cold ratio grows with the trials.
    naive = statistics.median(times["naive"])
    warm = statistics.median(times["tlkeras warm"])
    once = args.trials * (statistics.median(times["tlkeras cold"]) - warm)
    print(f"one-time cost of a cold search: {once:.2f} s")
    if naive > 5 * warm:
        needed = once / (naive / 5 - warm)
        print(f"cold searches reach 5x per trial from {needed:.0f} trials")


if __name__ == "__main__":
    main()
