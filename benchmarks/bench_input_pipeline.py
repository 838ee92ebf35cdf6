"""Training throughput from JPEG files against the same images from memory.

The real ants/bees photos (assets/datasets/hymenoptera/train, 244 JPEGs)
through `tlk.data.image_dataset(folder, cache=False)` (read, decode, resize
every epoch) and with its default `cache="auto"` (these fit in memory:
decoded once, kept), against the same
decoded, resized images from memory
(`tlk.data.image_dataset((x, y))`), and plain Keras's
`keras.utils.image_dataset_from_directory` (+ prefetch) on the same folder,
and the folder decoded by two `tf.data` service workers started in this
process (`service=`; on the same 2 cores, so this measures the service's
overhead here, not the scale-out it gives with workers on other machines),
training the same model: MobileNetV2
(alpha 0.35, 96 px, frozen base, linear head), batch 32. Each round times
`--epochs` epochs of each, interleaved in rotated order; the ratio is the
median of paired ratios (files / memory, 1.0 = no input cost).

    python benchmarks/bench_input_pipeline.py [--assets ../shared/assets]
"""

import argparse
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _timing import add_assets_argument  # noqa: E402
from _timing import fit_seconds  # noqa: E402
from _timing import interleaved  # noqa: E402
from _timing import median_ratio  # noqa: E402

import tlkeras as tlk  # noqa: E402

SIZE = (96, 96)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_assets_argument(parser)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    folder = Path(args.assets) / "datasets" / "hymenoptera" / "train"
    if not folder.is_dir():
        sys.exit(f"skipped: no photos at {folder} (set --assets)")
    files = tlk.data.image_dataset(
        folder, image_size=SIZE, batch_size=32, seed=0, cache=False
    )
    images, labels = [], []
    for x, y in tlk.data.image_dataset(
        folder, image_size=SIZE, batch_size=32, shuffle=False
    ):
        images.append(x.numpy())
        labels.append(y.numpy())
    memory = tlk.data.image_dataset(
        (np.concatenate(images), np.concatenate(labels)),
        image_size=SIZE,
        batch_size=32,
        seed=0,
    )
    model = tlk.build_classifier(
        "mobilenet_v2",
        2,
        input_shape=SIZE + (3,),
        weights=None,
        base_kwargs={"alpha": 0.35},
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    cached = tlk.data.image_dataset(
        folder, image_size=SIZE, batch_size=32, seed=0
    )
    # Two tf.data service workers on this machine (in this process: the
    # same two cores): what scale-out costs here, not what it gives.
    dispatcher = tlk.data.start_dispatcher(0)
    workers = [tlk.data.start_worker(0, dispatcher.target) for _ in range(2)]
    served = tlk.data.image_dataset(
        folder,
        image_size=SIZE,
        batch_size=32,
        seed=0,
        service=dispatcher.target,
    )
    keras_files = keras.utils.image_dataset_from_directory(
        folder, image_size=SIZE, batch_size=32, seed=0, verbose=False
    ).prefetch(-1)
    sources = {
        "files, no cache": files,
        "files, default": cached,
        "keras files": keras_files,
        "2 service workers": served,
        "memory": memory,
    }
    for dataset in sources.values():
        fit_seconds(model, dataset, epochs=1)  # trace, warm caches
    times = interleaved(
        lambda name: fit_seconds(model, sources[name], epochs=args.epochs),
        sources,
        args.rounds,
    )
    n = len(np.concatenate(labels)) * args.epochs
    print(
        f"keras {keras.__version__}, {n // args.epochs} photos, "
        f"{args.rounds} rounds of {args.epochs} epochs, batch 32"
    )
    print(f"{'source':16} {'img/s':>8}")
    for name, values in times.items():
        print(f"{name:16} {n / statistics.median(values):8.1f}")
    for name in (
        "files, no cache",
        "files, default",
        "keras files",
        "2 service workers",
    ):
        ratio = median_ratio(times["memory"], times[name])
        print(f"{name} / memory throughput: {ratio:.3f}x (goal >= 0.95x)")
    for worker in workers:
        worker.stop()
    dispatcher.stop()


if __name__ == "__main__":
    main()
