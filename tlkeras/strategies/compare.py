"""`compare`: several strategies on one dataset, same budget, same seeds."""

import dataclasses
import functools
import json
import os
import time
from typing import Callable
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence
from typing import Union

import keras
import numpy as np
import tensorflow as tf

from tlkeras import recipes
from tlkeras._utils.atomic import write_text
from tlkeras._utils.close_matches import did_you_mean
from tlkeras._utils.sizes import num_elements
from tlkeras.builders import build_classifier
from tlkeras.cached import AUGMENTED_COPIES
from tlkeras.cached import augments
from tlkeras.cached import fit_cached
from tlkeras.callbacks import GradualUnfreezing
from tlkeras.evaluation import report
from tlkeras.freezing import LoRA
from tlkeras.freezing import layer_groups
from tlkeras.heads import MLP
from tlkeras.regularizers import L2SP
from tlkeras.training import discriminative


@dataclasses.dataclass(frozen=True)
class Strategy:
    """One way to transfer, as `compare` runs it.

    Attributes:
        name: string, the row name.
        train: `train(model, train_data, validation_data, *, epochs, lr,
            batch_size, verbose) -> History`; it compiles and trains a
            freshly built model.
        head: the head for `build_classifier`, or a function that makes
            one. Defaults to `"linear"`.
        pretrained: bool, start from the pretrained weights (`False`: from
            scratch). Defaults to `True`.
        freeze: the freeze policy the model is built with. Defaults to
            `"base"`.
        bn: the BatchNormalization policy it is built with. Defaults to
            `"frozen"`.
        description: one line for tables and `--help`. Defaults to `""`.
        regularization: `None`, or a function making the penalty layer the
            model is built with (`build_classifier(regularization=...)`),
            such as `tlkeras.regularizers.L2SP`. Defaults to `None`.
    """

    name: str
    train: Callable
    head: object = "linear"
    pretrained: bool = True
    freeze: object = "base"
    bn: str = "frozen"
    description: str = ""
    regularization: Optional[Callable] = None


@dataclasses.dataclass
class Run:
    """One strategy trained with one seed, evaluated on the test data."""

    strategy: str
    seed: int
    accuracy: float
    macro_f1: float
    seconds: float
    trainable_params: int
    history: Dict[str, list]
    stage_starts: List[int] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Comparison:
    """The runs of `compare`; `print(comparison)` shows the table (mean and
    range over seeds per strategy)."""

    rows: List[Run]
    title: str = ""

    def summary(self) -> List[dict]:
        """Per strategy: mean, min and max of accuracy and macro F1, mean
        seconds and trainable parameters, in the order run."""
        result = []
        for name in dict.fromkeys(r.strategy for r in self.rows):
            runs = [r for r in self.rows if r.strategy == name]
            entry = {"strategy": name, "seeds": len(runs)}
            for key in ("accuracy", "macro_f1"):
                values = [getattr(r, key) for r in runs]
                entry[key] = float(np.mean(values))
                entry[f"{key}_min"] = float(np.min(values))
                entry[f"{key}_max"] = float(np.max(values))
            entry["seconds"] = float(np.mean([r.seconds for r in runs]))
            entry["trainable_params"] = runs[0].trainable_params
            result.append(entry)
        return result

    def to_dict(self) -> dict:
        return {
            "title": self.title,
            "summary": self.summary(),
            "runs": [r.to_dict() for r in self.rows],
        }

    def __str__(self) -> str:
        summary = self.summary()
        several = any(s["seeds"] > 1 for s in summary)
        header = ["strategy", "accuracy", "macro F1", "time (s)", "trainable"]
        if several:
            header.insert(2, "range")
        table = []
        for s in summary:
            row = [
                s["strategy"],
                f"{s['accuracy']:.3f}",
                f"{s['macro_f1']:.3f}",
                f"{s['seconds']:.1f}",
                f"{s['trainable_params']:,}",
            ]
            if several:
                row.insert(
                    2, f"{s['accuracy_min']:.3f}-{s['accuracy_max']:.3f}"
                )
            table.append(row)
        widths = [
            max(len(r[i]) for r in table + [header]) for i in range(len(header))
        ]
        lines = [
            "  ".join(
                [r[0].ljust(widths[0])]
                + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
            )
            for r in [header] + table
        ]
        lines.insert(1, "-" * len(lines[0]))
        if self.title:
            lines.insert(0, self.title)
        return "\n".join(lines)


# === The strategies ===


def _split(epochs):
    first = max(1, epochs // 2)
    return first, epochs - first


def _fit_args(train_data, batch_size):
    if isinstance(train_data, tf.data.Dataset):
        return (train_data,), {}
    return tuple(train_data), {"batch_size": batch_size}


def _train_cached(
    model, train_data, validation_data, *, epochs, lr, batch_size, verbose
):
    model.compile(optimizer=keras.optimizers.Adam(lr))
    args, kwargs = _fit_args(train_data, batch_size)
    if augments(train_data):
        # Augmented passes cached, as the recipes' head stage caches them.
        kwargs["augment_copies"] = AUGMENTED_COPIES
    return fit_cached(
        model,
        *args,
        epochs=epochs,
        validation_data=validation_data,
        verbose=verbose,
        **kwargs,
    )


def _train_plain(
    model, train_data, validation_data, *, epochs, lr, batch_size, verbose
):
    model.compile(optimizer=keras.optimizers.Adam(lr))
    args, kwargs = _fit_args(train_data, batch_size)
    return model.fit(
        *args,
        epochs=epochs,
        validation_data=validation_data,
        verbose=verbose,
        **kwargs,
    )


def _two_stage(recipe, first_stage, fine_tune_factor, **options):
    """A recipe's two stages in `epochs`: half (at least one) for the
    head, the rest at `lr * fine_tune_factor`."""

    def train(
        model, train_data, validation_data, *, epochs, lr, batch_size, verbose
    ):
        first, second = _split(epochs)
        _, kwargs = _fit_args(train_data, batch_size)
        return recipe(
            model,
            train_data,
            validation_data,
            fine_tune_epochs=second,
            lr=lr,
            fine_tune_lr=lr * fine_tune_factor,
            target="near",  # the settings named, nothing measured
            # The budget's last epoch, as every other strategy here.
            keep_best=False,
            verbose=verbose,
            **{first_stage: first},
            **options,
            **kwargs,
        )

    return train


def _default_recipe(
    model, train_data, validation_data, *, epochs, lr, batch_size, verbose
):
    """`tlk.recipes.fine_tune` with its defaults; the head stage takes the
    epochs it needs on cached features, fine-tuning half the budget.

    `compare`'s validation data is its test data, which may draw the
    curves but must not choose anything: the recipe gets none, so its head
    stage stops on a fifth of the training data held out, and no epoch is
    picked by the test score."""
    del validation_data  # the test set: never used to select
    _, kwargs = _fit_args(train_data, batch_size)
    return recipes.fine_tune(
        model,
        train_data,
        None,
        fine_tune_epochs=max(1, epochs // 2),
        lr=lr,
        verbose=verbose,
        **kwargs,
    )


# ULMFiT's ratio between the rates of neighbouring groups (Howard and
# Ruder 2018: 2.6).
ULMFIT_DECAY = 1 / 2.6


def _gradual_unfreezing(
    model, train_data, validation_data, *, epochs, lr, batch_size, verbose
):
    """ULMFiT's gradual unfreezing within the budget: the head alone, then
    one more base group (from the head down) at equal intervals, each group
    at the rate of the one above it divided by 2.6."""
    groups = len(layer_groups(model)) - 1
    model.compile(optimizer=discriminative(model, lr=lr, decay=ULMFIT_DECAY))
    args, kwargs = _fit_args(train_data, batch_size)
    return model.fit(
        *args,
        epochs=epochs,
        validation_data=validation_data,
        callbacks=[
            GradualUnfreezing(every=max(1, epochs // (groups + 1)), verbose=0)
        ],
        verbose=verbose,
        **kwargs,
    )


STRATEGIES: Dict[str, Strategy] = {}


def _head_of(strategy):
    head = strategy.head
    if isinstance(head, (str, keras.layers.Layer)) or not callable(head):
        return head
    return head()  # a factory


def register_strategy(strategy: Strategy) -> Strategy:
    """Make `strategy` available to `compare` and `tlkeras compare` by name.

    Example:

    >>> _ = register_strategy(STRATEGIES["linear_probe"])
    """
    STRATEGIES[strategy.name] = strategy
    return strategy


for _strategy in (
    Strategy(
        "linear_probe",
        _train_cached,
        description="frozen base, linear head, trained on cached features",
    ),
    Strategy(
        "feature_extraction",
        _train_cached,
        # A factory: a head made at import would start TensorFlow's
        # runtime (its Dropout's seed), after which a multi-worker strategy
        # can no longer be created.
        head=functools.partial(MLP, units=(256,), dropout=0.3),
        description="frozen base, MLP head, trained on cached features",
    ),
    Strategy(
        "fine_tune",
        _two_stage(recipes.fine_tune, "head_epochs", 0.1),
        description="head for half the epochs, then everything at lr/10",
    ),
    Strategy(
        "lp_ft",
        _two_stage(recipes.lp_ft, "probe_epochs", 0.01),
        description="linear probe for half the epochs, then all at lr/100",
    ),
    Strategy(
        "discriminative",
        _two_stage(recipes.fine_tune, "head_epochs", 0.5, lr_spread=100.0),
        description="head, then lr/2 at the head spread 100x (fastai)",
    ),
    Strategy(
        "gradual_unfreezing",
        _gradual_unfreezing,
        description="ULMFiT: head, then one more group at equal intervals, "
        "rates / 2.6 per group",
    ),
    Strategy(
        "lora",
        _train_plain,
        freeze=LoRA(rank=4),
        description="frozen base with rank-4 adapters, and the head",
    ),
    Strategy(
        "l2_sp",
        _two_stage(recipes.fine_tune, "head_epochs", 0.1),
        regularization=L2SP,
        description="fine_tune pulled toward the pretrained weights (L2-SP)",
    ),
    Strategy(
        "default",
        _default_recipe,
        description="tlk.recipes.fine_tune's defaults: the target measured "
        "and the head converged on a fifth of train held out, then all at "
        "lr/100 (near) or at lr with BN trained (far)",
    ),
    Strategy(
        "scratch",
        _train_plain,
        pretrained=False,
        freeze="none",
        bn="train",
        description="the same network from random weights, all trained",
    ),
):
    register_strategy(_strategy)


# === compare ===


def compare(
    strategies: Sequence[Union[str, Strategy]],
    train,
    test,
    *,
    base,
    num_classes: Optional[int] = None,
    input_shape=None,
    weights="imagenet",
    base_kwargs: Optional[dict] = None,
    epochs: int = 10,
    lr: float = 1e-3,
    batch_size: int = 32,
    seeds: Sequence[int] = (0,),
    class_names: Optional[Sequence[str]] = None,
    out: Optional[str] = None,
    title: str = "",
    verbose: int = 0,
    log: Callable[[str], None] = print,
) -> Comparison:
    """Run several strategies on one dataset under the same budget and
    seeds, and compare them on the test data.

    Each strategy gets a freshly built model (`build_classifier` with the
    strategy's head, freeze policy and BN policy; the pretrained weights,
    or random ones for `"scratch"`), `epochs` epochs in all at base rate
    `lr`, and is then evaluated with `tlkeras.evaluation.report` on `test`
    (accuracy, macro F1). The test data also serves as the validation
    curves in each run's history; no strategy selects anything on it.
    Training data that augments at random is augmented live by the
    strategies that train the base, and cached as `AUGMENTED_COPIES`
    augmented passes (each epoch sees them all) by those on cached
    features. Built-in strategies: `STRATEGIES` (`linear_probe`,
    `feature_extraction`, `fine_tune`, `lp_ft`, `discriminative`,
    `gradual_unfreezing`, `lora`, `l2_sp`, `default`, `scratch`); pass a
    `Strategy` for your own.

    Args:
        strategies: names or `Strategy` objects.
        train: `(x, y)` arrays or a `tf.data.Dataset` of batches.
        test: the same, for evaluation.
        base: as `build_classifier` (a name, `"hub:..."` or a
            `keras.Model`, copied for each run).
        num_classes: int. Defaults to the data's `class_names` or the
            largest array label + 1.
        input_shape: tuple. Defaults to the data's.
        weights, base_kwargs: as `build_classifier`.
        epochs: int, each strategy's budget. Defaults to `10`.
        lr: float, the base learning rate. Defaults to `1e-3`.
        batch_size: int, for array data. Defaults to `32`.
        seeds: the seeds; each strategy runs once per seed. Defaults to
            `(0,)`.
        class_names: names for the report. Defaults to the data's.
        out: a folder for `results.json`, `table.txt` and `compare.png`
            (written atomically), or `None`. Defaults to `None`.
        title: string for the table and plot. Defaults to `""`.
        verbose: `fit` verbosity. Defaults to `0`.
        log: callable for progress lines. Defaults to `print`.

    Returns:
        A `Comparison`.

    Example:

    >>> import numpy as np, tlkeras as tlk
    >>> base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)])
    >>> x = np.random.rand(16, 4).astype("float32"); y = np.arange(16) % 2
    >>> table = tlk.compare(["linear_probe", "fine_tune"], (x, y), (x, y),
    ...                     base=base, epochs=2, log=lambda line: None)
    >>> [row.strategy for row in table.rows]
    ['linear_probe', 'fine_tune']
    """
    chosen = [_strategy_of(s) for s in strategies]
    if not chosen:
        raise ValueError("`strategies` is empty; name at least one.")
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"`epochs` must be an int >= 1. Received: {epochs!r}")
    names = class_names or getattr(train, "class_names", None)
    num_classes = num_classes or _num_classes(train, names)
    input_shape = input_shape or _input_shape(train)
    rows = []
    for seed in seeds:
        for strategy in chosen:
            log(f"=== {strategy.name} (seed {seed}) ===")
            keras.utils.set_random_seed(seed)
            model = build_classifier(
                _base_for(base, strategy.pretrained),
                num_classes,
                input_shape=input_shape,
                weights=_weights_for(base, weights, strategy.pretrained),
                base_kwargs=None
                if isinstance(base, keras.Model)
                else base_kwargs,
                head=_head_of(strategy),
                regularization=strategy.regularization
                and strategy.regularization(),
                freeze=strategy.freeze,
                bn=strategy.bn,
                class_names=names,
            )
            start = time.perf_counter()
            history = strategy.train(
                model,
                train,
                test,
                epochs=epochs,
                lr=lr,
                batch_size=batch_size,
                verbose=verbose,
            )
            seconds = time.perf_counter() - start
            result = report(model, *_xy(test), batch_size=batch_size)
            rows.append(
                Run(
                    strategy=strategy.name,
                    seed=seed,
                    accuracy=result.metrics["accuracy"],
                    macro_f1=result.metrics["macro_f1"],
                    seconds=seconds,
                    trainable_params=sum(
                        num_elements(v) for v in model.trainable_variables
                    ),
                    history={
                        k: [float(v) for v in values]
                        for k, values in history.history.items()
                    },
                    stage_starts=list(getattr(history, "stage_starts", [])),
                )
            )
            log(
                f"{strategy.name}: accuracy {rows[-1].accuracy:.3f}, "
                f"macro F1 {rows[-1].macro_f1:.3f}, {seconds:.1f} s"
            )
    comparison = Comparison(rows, title=title)
    if out is not None:
        write_comparison(comparison, out)
    return comparison


def write_comparison(comparison: Comparison, out: str) -> Dict[str, str]:
    """Write `results.json`, `table.txt` and (with matplotlib)
    `compare.png` into `out`, each atomically; return their paths."""
    os.makedirs(out, exist_ok=True)
    paths = {
        "results": os.path.join(out, "results.json"),
        "table": os.path.join(out, "table.txt"),
    }
    write_text(paths["results"], json.dumps(comparison.to_dict(), indent=2))
    write_text(paths["table"], str(comparison) + "\n")
    try:
        from tlkeras import plots

        paths["plot"] = plots.compare(
            comparison, os.path.join(out, "compare.png"), title=comparison.title
        )
    except ImportError:
        pass  # the plot needs the `plot` extra; the table is written
    return paths


def _strategy_of(value) -> Strategy:
    if isinstance(value, Strategy):
        return value
    if value not in STRATEGIES:
        raise ValueError(
            f"Unknown strategy {value!r}. Known: {sorted(STRATEGIES)}."
            f"{did_you_mean(str(value), STRATEGIES)}"
        )
    return STRATEGIES[value]


def _base_for(base, pretrained):
    if not isinstance(base, keras.Model):
        return base
    copy = keras.models.clone_model(base)  # fresh random weights
    if pretrained:
        copy.set_weights(base.get_weights())
    return copy


def _weights_for(base, weights, pretrained):
    if isinstance(base, keras.Model):
        return None  # copied by _base_for
    if pretrained:
        return weights
    if isinstance(base, str) and base.startswith("hub:"):
        raise ValueError(
            "A TF-Hub base brings its own weights: it cannot be trained "
            f"from scratch. Received: base={base!r} with a 'scratch' strategy."
        )
    return None


def _num_classes(train, names):
    if names:
        return len(names)
    if isinstance(train, tf.data.Dataset):
        raise ValueError(
            "Pass `num_classes` (or `class_names`): this dataset has no "
            "class_names."
        )
    return int(np.max(train[1])) + 1


def _input_shape(train):
    if isinstance(train, tf.data.Dataset):
        return tuple(train.element_spec[0].shape[1:])
    return tuple(np.shape(train[0])[1:])


def _xy(data):
    return (data,) if isinstance(data, tf.data.Dataset) else tuple(data)
