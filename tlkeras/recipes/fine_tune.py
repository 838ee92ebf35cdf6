"""Two-stage recipes: train the head, then fine-tune (and LP-FT)."""

import warnings
from typing import Dict
from typing import List
from typing import Optional
from typing import Tuple
from typing import Union

import keras

from tlkeras import freezing
from tlkeras.cached import split_validation
from tlkeras.callbacks import BestWeights
from tlkeras.recipes.head_stage import check_holdout
from tlkeras.recipes.head_stage import train_head
from tlkeras.recipes.stages import compile_for
from tlkeras.recipes.stages import merge_histories
from tlkeras.recipes.target import Setting
from tlkeras.recipes.target import choose as choose_target
from tlkeras.recipes.target import settings as target_settings
from tlkeras.training import discriminative
from tlkeras.training import set_learning_rate

STRATEGIES = ("feature_extraction", "fine_tune", "lp_ft")


def fine_tune(
    model: keras.Model,
    train,
    validation_data=None,
    *,
    head_epochs: Union[int, str] = "auto",
    fine_tune_epochs: int = 5,
    max_head_epochs: int = 200,
    lr: float = 1e-3,
    fine_tune_lr: Optional[float] = None,
    freeze: freezing.PolicyLike = "none",
    bn: Optional[str] = None,
    target: str = "auto",
    lr_spread: Optional[float] = None,
    reset_optimizer: bool = True,
    keep_best: bool = True,
    unfreeze=None,
    loss="auto",
    metrics="auto",
    callbacks=None,
    verbose="auto",
    **fit_kwargs,
) -> keras.callbacks.History:
    """Train the head with the base frozen, then fine-tune at a lower rate.

    LP-FT by default (Kumar et al. 2022), the stages of the Keras
    transfer-learning guide and of fastai's `fine_tune` otherwise:

    1. The head, base frozen, with Adam(`lr`). `head_epochs="auto"` trains
       it to convergence on features computed once (`train_head`: until
       the validation loss stops improving, on `validation_data` or on a
       held-out share of `train`); an int trains that many epochs with
       `fit`, running the base every batch.
    2. The freeze policy `freeze` (`"none"`: everything trains;
       `tlkeras.freezing.TrainTop(k)` the top groups...), with Adam at
       `fine_tune_lr`, or discriminative rates from
       `fine_tune_lr / lr_spread` (first group) to `fine_tune_lr` (head)
       when `lr_spread` is given. The rate and BatchNormalization follow
       `target`, how far the task is from the pretraining data:
       `"near"`: `lr / 100` (small enough not to undo the converged
       head's work), BN as the model's policy (the builders keep the
       statistics fixed); `"far"`: `lr`, BN statistics trained (features
       a linear head cannot use must be re-learned); `"auto"` measures it
       (`tlkeras.recipes.target`): from one converged head trained on
       part of the data, it fine-tunes both ways and keeps `"near"`
       unless `"far"` has a loss lower by over 10% on `validation_data`
       (or, without, on a stratified fifth of `train` held out; below
       100 examples on every fifth in turn, 5-fold cross-validation),
       and says which in one printed line;
       then the two stages run as above with that setting. Explicit
       `fine_tune_lr` and `bn` win over the target's. With
       `validation_data` and `keep_best`, the model ends with the
       weights of the best validation loss seen from the end of stage 1
       on, so fine-tuning that does not help is undone.

    Epochs are numbered across both stages.

    Args:
        model: a `tlkeras.TransferModel` (or, with an int `head_epochs`, a
            model `tlkeras.layer_groups` can split).
        train: training data, as `fit` takes it (a dataset, or `(x, y)`).
        validation_data: as `fit` takes it. Defaults to `None`.
        head_epochs: `"auto"` or an int >= 0, stage 1 as above. Defaults
            to `"auto"`.
        fine_tune_epochs: int, epochs of stage 2. Defaults to `5`.
        max_head_epochs: int, at most this many head epochs with
            `head_epochs="auto"`. Defaults to `200`.
        lr: float, the head's rate in stage 1. Defaults to `1e-3`.
        fine_tune_lr: float, the rate in stage 2. Defaults to the
            target's (`lr / 100` near, `lr` far).
        freeze: the freeze policy of stage 2, any form
            `tlkeras.freezing.parse_policy` reads. Defaults to `"none"`.
        bn: `"frozen"`, `"train"` or `None` (the target's: the model's
            near, `"train"` far), the BatchNormalization policy of stage
            2. Defaults to `None`.
        target: `"auto"`, `"near"` or `"far"`, as above. `"auto"` costs
            a head stage and two fine-tuning stages more, on part of the
            data (five times that below 100 examples). On a handful of
            examples per class the measurement is noisy (the README's
            "The default recipe"): say `"near"` or `"far"` for a task
            you know. Defaults to `"auto"`.
        lr_spread: float or `None`, ratio of the head's rate to the first
            group's in stage 2. Defaults to `None` (one rate).
        reset_optimizer: bool, start stage 2 with a fresh Adam. With
            `False` the stage-1 optimizer goes on at `fine_tune_lr`,
            keeping the head's state (only with an int `head_epochs` and
            no `lr_spread`). Defaults to `True`.
        keep_best: bool, with `validation_data`: end with the best
            validation loss's weights (stage 1's end included). Defaults
            to `True`.
        unfreeze: deprecated spelling of `freeze`.
        loss, metrics: as `compile`; `"auto"` follows the model's task.
        callbacks: list of callbacks for both stages. Defaults to `None`.
        verbose: as `fit`; unless `0`, a line also says each stage as it
            begins (what trains, at what rate, which epochs) and which
            target was measured. Defaults to `"auto"`.
        **fit_kwargs: passed to the `fit` calls (e.g. `batch_size`).

    Returns:
        A `keras.callbacks.History` covering both stages; its
        `stage_starts` attribute gives the index of each stage's first
        epoch, `target` the target fine-tuned for (`None` without stage
        2), `target_losses` each measured target's held-out loss
        (empty when none was measured) and `best_epoch` the epoch (0-based,
        as Keras numbers them) whose weights the model ends with, when the
        validation data chose it (`None` otherwise).

    Example:

    >>> import numpy as np, tlkeras as tlk
    >>> base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)])
    >>> model = tlk.build_classifier(base, 2)
    >>> x = np.random.rand(20, 4).astype("float32"); y = np.arange(20) % 2
    >>> history = tlk.recipes.fine_tune(model, (x, y), fine_tune_epochs=1,
    ...                                 max_head_epochs=20, verbose=0)
    >>> history.stage_starts[1] == history.converged_epochs
    True
    """
    auto = head_epochs == "auto"
    for name, value in (
        ("head_epochs", 0 if auto else head_epochs),
        ("fine_tune_epochs", fine_tune_epochs),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(
                f"`{name}` must be an int >= 0"
                + (" or 'auto'" if name == "head_epochs" else "")
                + f". Received: {name}={value!r}"
            )
    if unfreeze is not None:
        warnings.warn(
            "fine_tune(unfreeze=...) is deprecated: write freeze=... (the "
            "same freeze policy as build_classifier's; unfreeze='none' is "
            "freeze='none').",
            DeprecationWarning,
            stacklevel=2,
        )
        freeze = unfreeze
    freeze = freezing.parse_policy(freeze)
    if bn is not None:
        freezing.check_bn(bn)
    x, y = train if isinstance(train, tuple) else (train, None)
    candidates = target_settings(target, lr, fine_tune_lr, bn)
    chosen, losses = candidates[0], {}
    if auto:
        check_holdout(x, validation_data)  # before any measuring
    if fine_tune_epochs and len(candidates) > 1:
        chosen, losses = measure_target(
            model,
            (x, y),
            validation_data,
            candidates=candidates,
            head_epochs="auto" if auto else head_epochs,
            fine_tune_epochs=fine_tune_epochs,
            max_head_epochs=max_head_epochs,
            lr=lr,
            freeze=freeze,
            lr_spread=lr_spread,
            loss=loss,
            metrics=metrics,
            **fit_kwargs,
        )
        if verbose != 0:
            print(_chosen_line(chosen, candidates, losses, model))
    fine_tune_lr, bn = chosen.lr, chosen.bn
    histories = []
    best = BestWeights() if keep_best and validation_data is not None else None
    kept = None  # the epoch whose weights the model ends with, if chosen

    def fit(optimizer, initial_epoch, epochs, extra=()):
        if optimizer is not None:
            compile_for(model, optimizer, loss, metrics)
        history = model.fit(
            x,
            y,
            validation_data=validation_data,
            initial_epoch=initial_epoch,
            epochs=epochs,
            callbacks=list(callbacks or []) + list(extra),
            verbose=verbose,
            **fit_kwargs,
        )
        histories.append(history)

    # Each stage says itself when there are two.
    say = verbose != 0 and bool(auto or head_epochs) and bool(fine_tune_epochs)
    if say:
        print(
            _stage_one_line(auto, validation_data, head_epochs, max_head_epochs)
        )
    if auto:
        history = train_head(
            model,
            x,
            y,
            validation_data,
            lr=lr,
            max_epochs=max_head_epochs,
            batch_size=fit_kwargs.get("batch_size"),
            loss=loss,
            metrics=metrics,
            callbacks=callbacks,
            verbose=verbose,
        )
        histories.append(history)
        head_epochs = history.converged_epochs
    elif head_epochs:
        freezing.apply(model, "base")
        fit(keras.optimizers.Adam(lr), 0, head_epochs)
    if best is not None and fine_tune_epochs and model.compiled:
        # Stage 1's result is the one to beat.
        best.set_model(model)
        vx, vy = split_validation(validation_data)
        logs = model.evaluate(vx, vy, verbose=0, return_dict=True)
        best.on_epoch_end(
            head_epochs - 1, {f"val_{k}": v for k, v in logs.items()}
        )
    if fine_tune_epochs:
        if say:
            print(
                _stage_two_line(
                    model,
                    chosen,
                    freeze,
                    lr_spread,
                    head_epochs,
                    fine_tune_epochs,
                    keep=best is not None,
                )
            )
        freezing.apply(model, freeze, bn=bn)
        if lr_spread:
            optimizer = discriminative(
                model, "adam", lr=(fine_tune_lr / lr_spread, fine_tune_lr)
            )
        elif reset_optimizer or auto or not head_epochs:
            optimizer = keras.optimizers.Adam(fine_tune_lr)
        else:
            # `fit` makes the unfreezing take effect and keeps the state.
            set_learning_rate(model.optimizer, fine_tune_lr)
            optimizer = None
        fit(
            optimizer,
            head_epochs,
            head_epochs + fine_tune_epochs,
            extra=[best] if best is not None else (),
        )
        if best is not None:
            kept = best.restore()
    elif auto:
        kept = histories[-1].best_epoch
    merged = merge_histories(histories)
    merged.best_epoch = kept
    if auto:
        merged.converged_epochs = head_epochs
    merged.target = chosen.name if fine_tune_epochs else None
    merged.target_losses = losses
    return merged


def measure_target(
    model: keras.Model,
    train,
    validation_data=None,
    *,
    candidates: List[Setting],
    **trial,
) -> Tuple[Setting, Dict[str, float]]:
    """`tlkeras.recipes.target.choose` with `fine_tune`'s stages as its
    trials (`**trial`: `fine_tune`'s arguments, run silent).

    Example:

    >>> import numpy as np, tlkeras as tlk
    >>> from tlkeras.recipes.target import settings
    >>> base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)])
    >>> model = tlk.build_classifier(base, 2)
    >>> x = np.random.rand(20, 4).astype("float32"); y = np.arange(20) % 2
    >>> chosen, losses = measure_target(
    ...     model, (x, y), candidates=settings("auto", 1e-3, None, None),
    ...     fine_tune_epochs=1, max_head_epochs=5)
    >>> sorted(losses)
    ['far', 'near']
    """

    def run(model, data, validation, setting=candidates[0], **options):
        setting = dict(
            fine_tune_lr=setting.lr, bn=setting.bn, target=setting.name
        )
        return fine_tune(
            model,
            data,
            validation,
            **{**trial, "verbose": 0, **setting, **options},
        )

    x, y = train if isinstance(train, tuple) else (train, None)
    return choose_target(model, candidates, (x, y), validation_data, run)


def _stage_one_line(auto, validation_data, head_epochs, max_epochs) -> str:
    if not auto:
        return f"Stage 1/2: the head alone, for {head_epochs} epochs."
    if validation_data is not None:
        measure = "validation loss"
    else:
        measure = "loss on a held-out share of the training data"
    return (
        f"Stage 1/2: the head alone, on cached features until its {measure} "
        f"stops improving (at most {max_epochs} epochs)."
    )


def _stage_two_line(
    model, chosen, freeze, lr_spread, head_epochs, epochs, keep
) -> str:
    whole = freeze == freezing.parse_policy("none")
    what = "the whole network" if whole else f"under freeze={freeze}"
    rate = chosen.describe(getattr(model, "bn", None), lr_spread)
    first = head_epochs + 1
    return (
        f"Stage 2/2: fine-tuning {what} ({rate}), epochs {first}-"
        f"{head_epochs + epochs}" + (", the best epoch kept." if keep else ".")
    )


def _chosen_line(chosen, candidates, losses, model) -> str:
    other = next(s for s in candidates if s is not chosen)
    policy = getattr(model, "bn", None)
    why = {
        "near": "the pretrained features suit this task: touch them little",
        "far": "the pretrained features suit this task poorly: adapt them",
    }[chosen.name]
    return (
        f"tlkeras.recipes.fine_tune: target {chosen.name!r} "
        f"({chosen.describe(policy)}): held-out loss {losses[chosen.name]:.3g} "
        f"against {losses[other.name]:.3g} for {other.name!r} "
        f"({other.describe(policy)}); {why}."
    )


def lp_ft(
    model: keras.Model,
    train,
    validation_data=None,
    *,
    probe_epochs: Union[int, str] = "auto",
    fine_tune_epochs: int = 5,
    lr: float = 1e-3,
    fine_tune_lr: Optional[float] = None,
    **kwargs,
) -> keras.callbacks.History:
    """LP-FT: a linear probe first, then fine-tune the whole network.

    Kumar et al. 2022 ("Fine-Tuning can Distort Pretrained Features and
    Underperform Out-of-Distribution"): fitting the linear head first keeps
    the later full fine-tuning from distorting the pretrained features. The
    model's head must be linear (`tlkeras.heads.Linear`); stage 2 trains
    everything at `fine_tune_lr` (default `lr / 100`), BN statistics as the
    model's policy: `fine_tune`'s target `"near"`, the paper's recipe
    (`target="auto"` measures instead).

    Args: as `fine_tune`, with `probe_epochs` for the linear-probe stage.

    Example:

    >>> import numpy as np, tlkeras as tlk
    >>> base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)])
    >>> model = tlk.build_classifier(base, 2, head="linear")
    >>> x, y = np.ones((8, 4), "float32"), np.array([0, 1] * 4)
    >>> h = tlk.recipes.lp_ft(model, (x, y), probe_epochs=1,
    ...                       fine_tune_epochs=1, verbose=0)
    """
    head = getattr(model, "head", None)
    if getattr(head, "units", ()) != ():
        raise ValueError(
            "LP-FT needs a linear head (tlkeras.heads.Linear, head='linear')."
            f" Received a head with hidden units {head.units}."
        )
    return fine_tune(
        model,
        train,
        validation_data,
        head_epochs=probe_epochs,
        fine_tune_epochs=fine_tune_epochs,
        lr=lr,
        fine_tune_lr=lr / 100 if fine_tune_lr is None else fine_tune_lr,
        freeze="none",
        **{"target": "near", **kwargs},
    )


def run_strategy(
    model: keras.Model,
    strategy: str,
    train,
    validation_data=None,
    *,
    epochs: int,
    lr: float = 1e-3,
    verbose="auto",
    **fit_kwargs,
) -> keras.callbacks.History:
    """Train `model` with a named strategy in `epochs` epochs in all.

    - `"feature_extraction"`: the base frozen, the head trained for all
      epochs with Adam(`lr`);
    - `"fine_tune"`: `fine_tune` with half the epochs (at least one) for
      the head, the rest for the whole network;
    - `"lp_ft"`: `lp_ft`, split the same way.

    Args:
        model: a `tlkeras.TransferModel`.
        strategy: one of `STRATEGIES`.
        train, validation_data: as `fine_tune`.
        epochs: int, the epochs of all stages together.
        lr: float, the head's rate. Defaults to `1e-3`.
        verbose: as `fit`. Defaults to `"auto"`.
        **fit_kwargs: passed to `fit`.

    Example:

    >>> import numpy as np, tlkeras as tlk
    >>> base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)])
    >>> model = tlk.build_classifier(base, 2)
    >>> x, y = np.ones((8, 4), "float32"), np.array([0, 1] * 4)
    >>> h = tlk.recipes.run_strategy(model, "lp_ft", (x, y), epochs=2,
    ...                              verbose=0)
    >>> len(h.epoch)
    2
    """
    if strategy not in STRATEGIES:
        raise ValueError(
            f"`strategy` must be one of {STRATEGIES}. Received: "
            f"strategy={strategy!r}"
        )
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(
            f"`epochs` must be an int >= 1. Received: epochs={epochs!r}"
        )
    if strategy == "feature_extraction":
        return fine_tune(
            model,
            train,
            validation_data,
            head_epochs=epochs,
            fine_tune_epochs=0,
            lr=lr,
            verbose=verbose,
            **fit_kwargs,
        )
    head_epochs = max(1, epochs // 2)
    recipe, first_stage = {
        "fine_tune": (fine_tune, "head_epochs"),
        "lp_ft": (lp_ft, "probe_epochs"),
    }[strategy]
    return recipe(
        model,
        train,
        validation_data,
        fine_tune_epochs=epochs - head_epochs,
        lr=lr,
        target="near",  # the budget is `epochs`: nothing measured
        verbose=verbose,
        **{first_stage: head_epochs},
        **fit_kwargs,
    )
