"""Inference throughput: `model.predict` vs the exported SavedModel vs the
LiteRT file, at batch 1 and 32.

MobileNetV2 (alpha 0.35, 96 px, linear head) built by tlkeras, exported with
`tlk.export.saved_model` and `tlk.export.tflite` (uint8 inputs). Each round
times every runtime on the same batches, in rotated order; figures are
medians of images/s and ratios against `model.predict`.

    python benchmarks/bench_export.py [--rounds 5]
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from _timing import interleaved  # noqa: E402

import tlkeras as tlk  # noqa: E402

SHAPE = (96, 96, 3)


def images_per_second(run, batch, repeats) -> float:
    run(batch)  # warm
    start = time.perf_counter()
    for _ in range(repeats):
        run(batch)
    return repeats * len(batch) / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    model = tlk.build_classifier(
        "mobilenet_v2",
        2,
        input_shape=SHAPE,
        weights=None,
        base_kwargs={"alpha": 0.35},
    )
    folder = tempfile.mkdtemp()
    saved = tlk.export.saved_model(model, folder + "/1", verbose=0)
    lite = tlk.export.tflite(model, folder + "/model.tflite", verbose=0)
    serve = tf.saved_model.load(saved).signatures["serving_default"]
    interpreter = tlk.export.tflite_interpreter(lite)
    runner = interpreter.get_signature_runner("serving_default")
    runtimes = {
        "model.predict": lambda b: model.predict(
            b.astype("float32"), batch_size=len(b), verbose=0
        ),
        "SavedModel": lambda b: serve(images=tf.constant(b)),
        "LiteRT": lambda b: runner(images=b),
    }
    rng = np.random.default_rng(0)
    results = {}
    for size, repeats in ((1, 50), (32, 5)):
        batch = rng.integers(0, 256, (size,) + SHAPE).astype("uint8")
        times = interleaved(
            lambda name: images_per_second(runtimes[name], batch, repeats),
            runtimes,
            args.rounds,
        )
        results[size] = {k: statistics.median(v) for k, v in times.items()}
    print(
        f"keras {keras.__version__}, MobileNetV2 0.35 at 96 px, "
        f"{args.rounds} rounds"
    )
    print(f"{'runtime':14} {'batch':>5} {'img/s':>9} {'vs predict':>11}")
    for size, row in results.items():
        for name, value in row.items():
            ratio = value / row["model.predict"]
            print(f"{name:14} {size:5} {value:9.1f} {ratio:10.2f}x")


if __name__ == "__main__":
    main()
