"""Epoch time of distillation: `tlk.strategies.Distiller` (teacher outputs
computed once) against `keras.distillation.Distiller` (the teacher runs on
every batch) on the same teacher, student and data.

Teacher: MobileNetV2 (alpha 0.35, 96 px, random weights: the timing is the
same); student: a small CNN; 1024 images, batch 32. Keras's distiller uses
`LogitsDistillation` with a `KLDivergence` instance (the one form of it
that applies softmax and T^2). Each round times `--epochs` steady epochs of
each, interleaved, the order rotated; the ratio is the median of the
paired ratios. The teacher pass tlkeras pays once is reported apart.

    python benchmarks/bench_distillation.py [--rounds 5] [--epochs 2]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _timing import EpochTimer  # noqa: E402
from _timing import interleaved  # noqa: E402
from _timing import median_ratio  # noqa: E402

import tlkeras as tlk  # noqa: E402

SHAPE = (96, 96, 3)


def student(seed=1):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(SHAPE),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(8, 3, strides=2, activation="relu"),
            keras.layers.Conv2D(16, 3, strides=2, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(5),
        ]
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
    teacher = tlk.build_classifier(
        "mobilenet_v2",
        5,
        input_shape=SHAPE,
        weights=None,
        base_kwargs={"alpha": 0.35},
        logits=True,
    )
    ours = tlk.strategies.Distiller(teacher, student(), temperature=4.0)
    ours.compile(optimizer="adam")
    theirs = keras.distillation.Distiller(
        teacher,
        student(),
        distillation_losses=keras.distillation.LogitsDistillation(
            temperature=4.0, loss=keras.losses.KLDivergence()
        ),
        student_loss_weight=0.1,
    )
    theirs.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    start = time.perf_counter()
    teacher_outputs = ours._teacher_logits(x, {"batch_size": 32})
    once = time.perf_counter() - start
    labels = (y, teacher_outputs)

    def epochs(name, count):
        timer = EpochTimer()
        if name == "tlkeras":
            # The cached outputs, as `fit(cache_teacher=True)` passes them.
            ours.fit(
                x,
                labels,
                batch_size=32,
                epochs=count,
                verbose=0,
                cache_teacher=False,
                callbacks=[timer],
            )
        else:
            theirs.fit(
                x,
                y,
                batch_size=32,
                epochs=count,
                verbose=0,
                callbacks=[timer],
            )
        return statistics.median(timer.seconds)

    for name in ("tlkeras", "keras"):
        epochs(name, 1)  # trace, warm up
    times = interleaved(
        lambda name: epochs(name, args.epochs),
        ("tlkeras", "keras"),
        args.rounds,
    )
    print(
        f"keras {keras.__version__}, teacher MobileNetV2 0.35 at 96 px, "
        f"small CNN student, {args.images} images, batch 32, "
        f"{args.rounds} rounds"
    )
    print(f"{'distiller':10} {'s/epoch':>8}  all rounds")
    for name, values in times.items():
        rounds = " ".join(f"{v:.3f}" for v in values)
        print(f"{name:10} {statistics.median(values):8.3f}  {rounds}")
    ratio = median_ratio(times["keras"], times["tlkeras"])
    print(f"keras / tlkeras epoch time: {ratio:.2f}x (goal >= 1.5x)")
    print(f"teacher outputs computed once: {once:.2f} s")


if __name__ == "__main__":
    main()
