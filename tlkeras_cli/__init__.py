"""The `tlkeras` command line: parse the arguments, then call the library.

A top-level module outside the `tlkeras` package, so that `tlkeras --help`
and argument errors never import TensorFlow (importing any `tlkeras.*`
module runs the package's `__init__`, which does). TensorFlow's C++ layer
prints its start-up log lines straight to the process's stderr, before
`TF_CPP_MIN_LOG_LEVEL` is read by absl; unless you set that variable, the
command sends them nowhere while TensorFlow loads.
"""

import argparse
import contextlib
import os
import sys
from typing import Optional
from typing import Sequence

# What an option does, for the options whose definition below leaves it
# out because it means the same in every command.
_OPTION_HELP = {
    "seed": "random seed (splits, shuffling, initialisation)",
    "verbose": "Keras progress: 0 silent, 1 progress bar, 2 a line an epoch",
    "epochs": "training epochs (all stages together)",
    "lr": "learning rate of the head (the base's follow the strategy)",
    "batch_size": "examples per batch",
    "image_size": "images are resized to this square size, in pixels",
    "validation_split": "fraction of --data held out for validation",
    "augment": "random augmentation preset for the training images",
    "strategy": "how to train: feature_extraction (frozen base), "
    "fine_tune (head, then the whole base) or lp_ft (linear probe, then "
    "everything at a low rate)",
    "input_dtype": "dtype of the exported model's raw input",
    "overwrite": "replace an existing export",
    "quantize": "LiteRT quantization",
    "split": "tfds split to evaluate on, e.g. 'test'",
    "text_column": "CSV/TSV column of the texts (name or number)",
    "label_column": "CSV/TSV column of the labels (name or number)",
    "out": "folder for the results",
    "family": "only bases of this keras.applications family",
}


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option shows its default, unless it has none worth showing."""

    def _get_help_string(self, action):
        text = action.help or ""
        stated = "(default:" in text or "%(default)" in text
        unstated = (None, False, argparse.SUPPRESS)
        # By identity: a default of 0 (== False) is worth stating.
        if stated or any(action.default is value for value in unstated):
            return text
        if not action.option_strings:
            return text
        return text + " (default: %(default)s)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tlkeras",
        description="Transfer learning for Keras 3.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _add_commands(commands)
    for command in commands.choices.values():
        command.formatter_class = _HelpFormatter
        for action in command._actions:
            if not action.help and action.dest in _OPTION_HELP:
                action.help = _OPTION_HELP[action.dest]
    return parser


def _add_commands(commands) -> None:

    demo = commands.add_parser(
        "demo",
        help="run a transfer-learning study (no download needed)",
        description=(
            "Pretrain a small CNN on digits 0-4, transfer it to digits 5-9 "
            "with few labels, and compare training from scratch, feature "
            "extraction and fine-tuning. With --assets, run the same study "
            "on real photos (ants vs bees) with real ImageNet weights."
        ),
    )
    demo.add_argument(
        "--out",
        required=True,
        help="folder for results.json and learning_curves.png",
    )
    demo.add_argument(
        "--assets",
        default=os.environ.get("TLKERAS_ASSETS"),
        help="assets folder with weights/ and datasets/ (default: "
        "$TLKERAS_ASSETS)",
    )
    demo.add_argument(
        "--labels-per-class",
        type=int,
        default=None,
        help="labelled target images per class (digits "
        "default 3; photos default: all)",
    )
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument(
        "--verbose",
        type=int,
        default=2,
        choices=(0, 1, 2),
        help="Keras fit verbosity: 0 silent, 1 progress bar, 2 a line an epoch",
    )

    export = commands.add_parser(
        "export",
        help="export a .keras model as a SavedModel taking raw inputs",
    )
    export.add_argument("model", help="the .keras file")
    export.add_argument("out", help="the SavedModel folder to create")
    export.add_argument(
        "--input-dtype", default="uint8", choices=("uint8", "float32")
    )
    export.add_argument("--overwrite", action="store_true")
    export.add_argument(
        "--tflite", default=None, help="also write this .tflite file"
    )
    export.add_argument(
        "--quantize", default=None, choices=("dynamic", "float16")
    )

    evaluate = commands.add_parser(
        "evaluate", help="evaluate a .keras model on a dataset"
    )
    evaluate.add_argument("model", help="the .keras file")
    evaluate.add_argument(
        "data",
        help="a folder of class subfolders, 'tfds:<name>', or a CSV/TSV "
        "file for text models",
    )
    evaluate.add_argument("--split", default=None, help="tfds split")
    evaluate.add_argument("--batch-size", type=int, default=32)
    evaluate.add_argument("--text-column", default=None)
    evaluate.add_argument("--label-column", default=None)
    evaluate.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    evaluate.add_argument(
        "--tta",
        default=None,
        choices=("flip",),
        help="test-time augmentation for the report: 'flip' averages each "
        "image's prediction with its mirror image's (adds tta_* figures to "
        "the printed JSON; Keras's own stay without)",
    )
    evaluate.add_argument(
        "--report",
        default=None,
        help="where to write the per-class report as JSON (default: "
        "MODEL_report.json beside the model file)",
    )

    train = commands.add_parser(
        "train",
        help="train a classifier on an image folder or tfds dataset",
        description="Build a classifier on a pretrained base, train it with "
        "a strategy, save model.keras and report.json in --out.",
    )
    train.add_argument("--base", required=True, help="e.g. mobilenet_v2")
    train.add_argument(
        "--data",
        required=True,
        help="a folder of class subfolders, or 'tfds:<name>' (its train "
        "split, cut by --validation-split)",
    )
    train.add_argument("--out", required=True)
    train.add_argument(
        "--strategy",
        default="auto",
        # tlkeras.recipes.STRATEGIES and auto, spelled out: --help stays
        # instant.
        choices=("auto", "feature_extraction", "fine_tune", "lp_ft"),
        help="auto: tlk.recipes.auto, which measures how far the "
        "task is from the pretraining data and picks the probe alone or "
        "fine-tuning, said in one line; the others: that recipe, --epochs "
        "in all",
    )
    train.add_argument("--epochs", type=int, default=5)
    train.add_argument("--image-size", type=int, default=160)
    train.add_argument(
        "--weights",
        default="imagenet",
        help="'imagenet', 'none' or a weights file",
    )
    train.add_argument(
        "--base-kwargs", default=None, help="JSON, e.g. '{\"alpha\": 0.35}'"
    )
    train.add_argument("--validation-split", type=float, default=0.2)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--augment", default=None, choices=("light", "standard"))
    train.add_argument(
        "--data-service",
        default=None,
        help="decode the images on a tf.data service: its dispatcher's "
        "grpc://host:port (see `tlkeras data-service`)",
    )
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))

    compare = commands.add_parser(
        "compare",
        help="compare strategies on one image folder (same budget, seeds)",
        description="Run several transfer strategies on one dataset with "
        "the same epochs and seeds, evaluate each on held-out data, and "
        "write table.txt, results.json and compare.png into --out.",
    )
    compare.add_argument("--base", required=True, help="e.g. mobilenet_v2")
    compare.add_argument(
        "--data", required=True, help="a folder of class subfolders"
    )
    compare.add_argument(
        "--test",
        default=None,
        help="a folder to evaluate on (default: a --validation-split of "
        "--data, held out)",
    )
    compare.add_argument("--out", required=True, help="the results folder")
    compare.add_argument(
        "--strategies",
        default="linear_probe,fine_tune,lp_ft",
        help="comma-separated names from tlkeras.strategies.STRATEGIES: "
        "linear_probe, feature_extraction, fine_tune, lp_ft, "
        "discriminative, gradual_unfreezing, lora, l2_sp, default, scratch "
        "(default: %(default)s)",
    )
    compare.add_argument("--epochs", type=int, default=10, help="per strategy")
    compare.add_argument(
        "--seeds",
        default="0",
        help="comma-separated seeds, one run each",
    )
    compare.add_argument("--image-size", type=int, default=160)
    compare.add_argument(
        "--weights", default="imagenet", help="'imagenet', 'none' or a file"
    )
    compare.add_argument(
        "--base-kwargs", default=None, help="JSON, e.g. '{\"alpha\": 0.35}'"
    )
    compare.add_argument("--validation-split", type=float, default=0.2)
    compare.add_argument("--batch-size", type=int, default=32)
    compare.add_argument("--lr", type=float, default=1e-3)
    compare.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2))

    service = commands.add_parser(
        "data-service",
        help="run a tf.data service dispatcher or worker",
        description="Serve input decoding for `tlkeras train "
        "--data-service` (or image_dataset(service=...)) from this process "
        "until it is stopped: one dispatcher, any number of workers.",
    )
    service.add_argument(
        "role",
        choices=("dispatcher", "worker"),
        help="dispatcher (one per service) or worker (any number)",
    )
    service.add_argument(
        "--port", type=int, required=True, help="the port to serve on"
    )
    service.add_argument(
        "--dispatcher",
        default=None,
        help="workers: the dispatcher's host:port",
    )
    service.add_argument(
        "--work-dir",
        default=None,
        help="dispatcher: a folder to journal its state in (it then "
        "survives a restart)",
    )

    bases = commands.add_parser("bases", help="list the bases known by name")
    bases.add_argument(
        "--family",
        default=None,
        help="only bases of this keras.applications family",
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the `tlkeras` command line.

    Example:

    >>> main(["bases", "--family", "resnet"])  # doctest: +NORMALIZE_WHITESPACE
    ResNet101
    ResNet152
    ResNet50
    0
    """
    args = _parser().parse_args(argv)
    with _quiet_tensorflow_start():
        import tlkeras  # noqa: F401 - loads TensorFlow, quietly
    if args.command == "bases":
        return _bases(args)
    if args.command == "demo":
        return _demo(args)
    from tlkeras.cli import workflows

    try:
        return getattr(workflows, args.command.replace("-", "_"))(args)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


@contextlib.contextmanager
def _quiet_tensorflow_start():
    """Unless `TF_CPP_MIN_LOG_LEVEL` is set: set it to 2 (errors only) and
    point file descriptor 2 at /dev/null while TensorFlow loads, for the
    lines its C++ layer writes before reading that variable. Python errors
    raised meanwhile still reach the user (as exceptions)."""
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ or "tensorflow" in sys.modules:
        yield
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    sys.stderr.flush()
    saved = os.dup(2)
    sink = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(sink, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(sink)


def _bases(args) -> int:
    from tlkeras.bases import get_spec
    from tlkeras.bases import list_bases

    for name in list_bases():
        if args.family is None or get_spec(name).family == args.family:
            print(name)
    return 0


def _demo(args) -> int:
    from tlkeras import demo

    if args.labels_per_class is not None and args.labels_per_class < 1:
        print("error: --labels-per-class must be >= 1", file=sys.stderr)
        return 2
    if args.assets:
        demo.run_photo_study(
            args.out,
            args.assets,
            labels_per_class=args.labels_per_class,
            seed=args.seed,
            verbose=args.verbose,
        )
    else:
        demo.run_digits_study(
            args.out,
            labels_per_class=args.labels_per_class or 3,
            seed=args.seed,
            verbose=args.verbose,
        )
    return 0


if __name__ == "__main__":  # python -m tlkeras_cli
    sys.exit(main())
