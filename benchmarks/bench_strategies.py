"""Every strategy on two tasks, several seeds: the table behind the README's
"Choosing a strategy".

`tlk.compare` runs each strategy with the same budget and seeds, and
evaluates it on test data no strategy selects on:

- photos: ants vs bees (hymenoptera: 244 training photos in `train/`, 153
  test photos in `val/`) at 160 px, MobileNetV2 alpha 0.35 with its real
  ImageNet weights from the assets (close to the pretraining images, few
  labels); 8 epochs, lr 1e-3, batch 32. Skipped, saying so, without the
  assets.
- digits: the demo's task, far from the pretraining data: a small CNN
  pretrained on scikit-learn's digits 0-4, digits 5-9 learnt from
  `--labels-per-class` images per class (881 test images); 30 epochs, lr
  3e-3, batch 16. Each seed pretrains its own base.

Prints a table per task (mean accuracy, range over seeds, macro F1,
seconds, trainable parameters) and, with `--out`, writes each task's
`results.json`, `table.txt` and `compare.png` under it.

    python benchmarks/bench_strategies.py [--seeds 0 1 2] [--tasks digits]
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
from _timing import add_assets_argument  # noqa: E402

import tlkeras as tlk  # noqa: E402
from tlkeras.demo.digits import load_digits_split  # noqa: E402
from tlkeras.demo.digits import pretrain_source  # noqa: E402
from tlkeras.demo.photos import DATASET  # noqa: E402
from tlkeras.demo.photos import WEIGHTS  # noqa: E402
from tlkeras.demo.photos import load_folder  # noqa: E402

STRATEGIES = [
    "linear_probe",
    "feature_extraction",
    "fine_tune",
    "discriminative",
    "gradual_unfreezing",
    "lp_ft",
    "lora",
    "l2_sp",
    "default",
    "scratch",
]


def photos(args, seeds):
    assets = Path(args.assets)
    weights, data = assets / WEIGHTS, assets / DATASET
    if not (weights.is_file() and data.is_dir()):
        print(f"photos skipped: no {weights} or {data} (set --assets)")
        return None
    x, y, names = load_folder(os.fspath(data / "train"), (160, 160))
    xt, yt, _ = load_folder(os.fspath(data / "val"), (160, 160))
    return tlk.compare(
        args.strategies,
        (x, y),
        (xt, yt),
        base="mobilenet_v2",
        weights=os.fspath(weights),
        base_kwargs={"alpha": 0.35},
        class_names=names,
        epochs=8,
        lr=1e-3,
        batch_size=32,
        seeds=seeds,
        title="ants vs bees, MobileNetV2 0.35 at 160 px, ImageNet weights",
        out=args.out and os.path.join(args.out, "photos"),
    )


def digits(args, seeds):
    rows = []
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        source, train, test = load_digits_split(args.labels_per_class, seed)
        base = pretrain_source(source, verbose=0)
        rows += tlk.compare(
            args.strategies,
            train,
            test,
            base=base,
            epochs=30,
            lr=3e-3,
            batch_size=16,
            seeds=(seed,),
        ).rows
    title = (
        f"digits 0-4 -> 5-9, {args.labels_per_class} labels per class, "
        "small CNN"
    )
    comparison = tlk.strategies.Comparison(rows, title=title)
    if args.out:
        tlk.strategies.write_comparison(
            comparison, os.path.join(args.out, "digits")
        )
    return comparison


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_assets_argument(parser)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--tasks",
        nargs="+",
        default=["photos", "digits"],
        choices=["photos", "digits"],
    )
    parser.add_argument("--strategies", nargs="+", default=STRATEGIES)
    parser.add_argument("--labels-per-class", type=int, default=10)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    tables = [
        {"photos": photos, "digits": digits}[task](args, args.seeds)
        for task in args.tasks
    ]
    print(f"\nkeras {keras.__version__}, seeds {args.seeds}")
    for table in tables:
        if table is not None:
            print(f"\n{table}")


if __name__ == "__main__":
    main()
