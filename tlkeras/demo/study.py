"""Compare transfer strategies on one task: scratch, features, fine-tuning
and the default recipe."""

import dataclasses
import json
import os
from typing import Callable
from typing import List
from typing import Optional

import keras

from tlkeras import plots
from tlkeras import recipes
from tlkeras._utils.atomic import write_text
from tlkeras.strategies import Strategy
from tlkeras.strategies import compare

STRATEGIES = (
    "from scratch",
    "feature extraction",
    "fine-tuning",
    "default recipe",
)


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


def study_strategies(settings: StudySettings) -> List[Strategy]:
    """The study's strategies, as `tlkeras.compare` runs them: from
    scratch, feature extraction (frozen base, new head), fine-tuning (the
    head first, then `settings.fine_tune` at a lower rate, unfrozen
    mid-study through the recipe, the head's optimizer state kept) and the
    default recipe (`tlkeras.recipes.fine_tune` with its defaults, the
    base trained for as many epochs as in fine-tuning; it gets no
    validation data: the study's is its test data).

    Example:

    >>> [s.name for s in study_strategies(StudySettings())]
    ['from scratch', 'feature extraction', 'fine-tuning', 'default recipe']
    """

    # Each strategy keeps its own rates: the `lr` compare passes is unused.
    def fit(rate):
        def train(model, data, validation, *, epochs, lr, batch_size, verbose):
            model.compile(optimizer=keras.optimizers.Adam(rate))
            return model.fit(
                *data,
                validation_data=validation,
                epochs=epochs,
                batch_size=batch_size,
                verbose=verbose,
            )

        return train

    def fine_tune(model, data, validation, *, epochs, lr, batch_size, verbose):
        return recipes.fine_tune(
            model,
            data,
            validation,
            head_epochs=settings.head_epochs,
            fine_tune_epochs=epochs - settings.head_epochs,
            lr=settings.head_lr,
            fine_tune_lr=settings.fine_tune_lr,
            freeze=settings.fine_tune,
            bn=settings.fine_tune_bn,
            reset_optimizer=False,
            keep_best=False,  # the budget's last epoch, as the others
            batch_size=batch_size,
            verbose=verbose,
        )

    def default_recipe(
        model, data, validation, *, epochs, lr, batch_size, verbose
    ):
        del validation  # the test data: never used to select
        return recipes.fine_tune(
            model,
            data,
            fine_tune_epochs=epochs - settings.head_epochs,
            batch_size=batch_size,
            verbose=verbose,
        )

    return [
        Strategy(
            "from scratch",
            fit(settings.scratch_lr),
            pretrained=False,
            freeze="none",
            bn="train",
        ),
        Strategy("feature extraction", fit(settings.head_lr)),
        Strategy("fine-tuning", fine_tune),
        Strategy("default recipe", default_recipe),
    ]


def run_study(
    base,
    train,
    test,
    settings: StudySettings,
    *,
    seed: int = 0,
    log: Callable[[str], None] = print,
    **build_kwargs,
) -> List[StrategyResult]:
    """Train the study's strategies with `tlkeras.compare` and return their
    results.

    Args:
        base: the pretrained base, as `tlkeras.compare` takes it.
        train: `(x, y)` arrays for training.
        test: `(x, y)` arrays for testing (the learning curves use them).
        settings: a `StudySettings`.
        seed: int. Defaults to `0`.
        log: callable for the progress headings.
        **build_kwargs: `weights`, `base_kwargs`, `input_shape`,
            `num_classes` for `tlkeras.compare`.

    Example:

    >>> # see tlkeras.demo.run_digits_study
    """
    comparison = compare(
        study_strategies(settings),
        train,
        test,
        base=base,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        seeds=(seed,),
        verbose=settings.verbose,
        log=lambda line: log(f"\n{line}") if line.startswith("===") else None,
        **build_kwargs,
    )
    results = []
    for run in comparison.rows:
        starts = [s for s in run.stage_starts if s > 0]
        results.append(
            StrategyResult(
                name=run.strategy,
                accuracy=run.accuracy,
                seconds=run.seconds,
                trainable_params=run.trainable_params,
                # The default recipe sees no test data, so has no curve.
                curve=run.history.get("val_accuracy", []),
                fine_tune_start=starts[0] if starts else None,
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
        {r.name: r.curve for r in results if r.curve},
        os.path.join(out_dir, "learning_curves.png"),
        title=title,
        marks={r.name: r.fine_tune_start for r in results if r.fine_tune_start},
    )
    return {"results": json_path, "plot": png_path}
