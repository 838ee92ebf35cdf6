"""Compare transfer strategies on one task: scratch, features, fine-tuning."""

import dataclasses
import json
import os
import time
from typing import Callable
from typing import List
from typing import Optional

import keras

from tlkeras import plots
from tlkeras import recipes
from tlkeras._utils.atomic import write_text

STRATEGIES = ("from scratch", "feature extraction", "fine-tuning")


@dataclasses.dataclass
class StrategyResult:
    """How one strategy did: final test accuracy, time and its curve."""

    name: str
    accuracy: float
    seconds: float
    trainable_params: int
    curve: List[float]
    fine_tune_start: Optional[int] = None


@dataclasses.dataclass
class StudySettings:
    """Epochs and learning rates of a study (same epochs for all)."""

    epochs: int = 30
    head_epochs: int = 10
    batch_size: int = 16
    scratch_lr: float = 3e-3
    head_lr: float = 1e-2
    fine_tune_lr: float = 1e-3
    fine_tune: object = "none"
    fine_tune_bn: str = "frozen"
    verbose: int = 2


def run_study(
    make_model: Callable[..., keras.Model],
    train,
    test,
    settings: StudySettings,
    *,
    log: Callable[[str], None] = print,
) -> List[StrategyResult]:
    """Train the three strategies and return their results.

    Args:
        make_model: `make_model(pretrained, freeze, bn)` returns a fresh,
            uncompiled `tlkeras.TransferModel`.
        train: `(x, y)` arrays for training.
        test: `(x, y)` arrays for testing (the learning curves use them).
        settings: a `StudySettings`.
        log: callable for the progress headings.

    Example:

    >>> # see tlkeras.demo.run_digits_study
    """

    def fit(model, lr, epochs, initial_epoch=0):
        if lr is not None:
            model.compile(optimizer=keras.optimizers.Adam(lr))
        history = model.fit(
            *train,
            validation_data=test,
            epochs=epochs,
            initial_epoch=initial_epoch,
            batch_size=settings.batch_size,
            verbose=settings.verbose,
        )
        return [float(a) for a in history.history["val_accuracy"]]

    results = []
    for name in STRATEGIES:
        log(f"\n=== {name} ===")
        start = time.perf_counter()
        fine_tune_start = None
        if name == "from scratch":
            model = make_model(pretrained=False, freeze="none", bn="train")
            curve = fit(model, settings.scratch_lr, settings.epochs)
        elif name == "feature extraction":
            model = make_model(pretrained=True, freeze="base", bn="frozen")
            curve = fit(model, settings.head_lr, settings.epochs)
        else:
            model = make_model(pretrained=True, freeze="base", bn="frozen")
            log(
                f"head for {settings.head_epochs} epochs, then "
                f"freeze={settings.fine_tune!r}, bn={settings.fine_tune_bn!r} "
                f"at learning rate {settings.fine_tune_lr:g}"
            )
            # The optimizer goes on into stage 2: tlkeras makes the
            # unfreezing take effect and keeps the head's state.
            history = recipes.fine_tune(
                model,
                train,
                test,
                head_epochs=settings.head_epochs,
                fine_tune_epochs=settings.epochs - settings.head_epochs,
                lr=settings.head_lr,
                fine_tune_lr=settings.fine_tune_lr,
                freeze=settings.fine_tune,
                bn=settings.fine_tune_bn,
                reset_optimizer=False,
                batch_size=settings.batch_size,
                verbose=settings.verbose,
            )
            curve = [float(a) for a in history.history["val_accuracy"]]
            fine_tune_start = settings.head_epochs
        seconds = time.perf_counter() - start
        results.append(
            StrategyResult(
                name=name,
                accuracy=curve[-1],
                seconds=seconds,
                trainable_params=sum(
                    int(v.numpy().size) for v in model.trainable_variables
                ),
                curve=curve,
                fine_tune_start=fine_tune_start,
            )
        )
    return results


def format_table(results: List[StrategyResult]) -> str:
    """The results as an aligned text table."""
    header = ("strategy", "test accuracy", "time (s)", "trainable params")
    rows = [
        (
            r.name,
            f"{r.accuracy:.3f}",
            f"{r.seconds:.1f}",
            f"{r.trainable_params:,}",
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows + [header]) for i in range(4)]
    lines = [
        "  ".join(
            [row[0].ljust(widths[0])]
            + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        )
        for row in [header] + rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def write_report(results: List[StrategyResult], out_dir, title: str) -> dict:
    """Write `results.json` and `learning_curves.png` into `out_dir`."""
    os.makedirs(out_dir, exist_ok=True)
    json_path = os.path.join(out_dir, "results.json")
    write_text(
        json_path,
        json.dumps(
            {
                "title": title,
                "results": [dataclasses.asdict(r) for r in results],
            },
            indent=2,
        ),
    )
    png_path = plots.curves(
        {r.name: r.curve for r in results},
        os.path.join(out_dir, "learning_curves.png"),
        title=title,
        marks={r.name: r.fine_tune_start for r in results if r.fine_tune_start},
    )
    return {"results": json_path, "plot": png_path}
