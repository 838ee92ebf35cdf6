"""The learning-rate range test (Smith 2015; fastai's `lr_find`)."""

import dataclasses
import math
from typing import Dict
from typing import List
from typing import Optional

import keras
import numpy as np

from tlkeras._utils.plotting import pyplot
from tlkeras._utils.plotting import save_figure
from tlkeras.training import inner_optimizer
from tlkeras.training import set_learning_rate


@dataclasses.dataclass
class LRFinderResult:
    """Rates tried, smoothed losses, and the suggested rates.

    `suggestions` holds fastai's three, by its rules (see `suggest`):
    `valley` (in the longest decreasing stretch of the curve, a third and a
    sixth of the way in), `minimum` (the rate at the lowest loss, divided
    by 10) and `steep` (where the loss falls fastest against log rate), on
    the curve without its first tenth and last 5 points.
    """

    learning_rates: List[float]
    losses: List[float]
    suggestions: Dict[str, float]

    def plot(self, path) -> str:
        """Write the loss-vs-rate curve (log x axis) to a PNG file."""
        plt = pyplot("LRFinderResult.plot")
        figure, axes = plt.subplots(figsize=(6.4, 4.0), dpi=100)
        axes.plot(self.learning_rates, self.losses)
        for (name, rate), marker in zip(self.suggestions.items(), "o^s"):
            index = int(
                np.argmin(np.abs(np.log(self.learning_rates) - math.log(rate)))
            )
            axes.plot(
                rate, self.losses[index], marker, label=f"{name} {rate:.2e}"
            )
        axes.set_xscale("log")
        axes.set_xlabel("learning rate")
        axes.set_ylabel("smoothed loss")
        axes.legend()
        figure.tight_layout()
        return save_figure(figure, path)


def lr_find(
    model: keras.Model,
    train,
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_iter: int = 100,
    stop_div: bool = True,
    beta: float = 0.98,
    batch_size: int = 32,
    plot: Optional[str] = None,
    verbose: int = 1,
) -> LRFinderResult:
    """Find a learning rate: train while raising it exponentially.

    Trains `num_iter` steps with the rate going from `start_lr` to `end_lr`
    evenly in log space, records the loss smoothed by an exponential moving
    average (debiased, `beta`), stops once it exceeds 4x the best (fastai's
    `stop_div`), then puts back the model's weights, the optimizer's state
    and its learning rate exactly as they were. With a per-group optimizer
    the base rate is swept: every group keeps its multiplier, so the result
    is the scale of the whole spread.

    Args:
        model: a compiled model whose optimizer has a float learning rate.
        train: a `tf.data.Dataset` of batches, or `(x, y)` arrays.
        start_lr, end_lr: floats, the range. Defaults to `1e-7` and `10`.
        num_iter: int, steps at most. Defaults to `100`.
        stop_div: bool, stop when the loss diverges. Defaults to `True`.
        beta: float, the smoothing factor. Defaults to `0.98`.
        batch_size: int, for array inputs. Defaults to `32`.
        plot: path of a PNG to write, or `None`. Defaults to `None`.
        verbose: int, 1 shows a Keras progress bar. Defaults to `1`.

    Returns:
        An `LRFinderResult`.

    Example:

    >>> import numpy as np, tlkeras as tlk
    >>> base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)])
    >>> model = tlk.build_classifier(base, 2, freeze="none")
    >>> model.compile()
    >>> x, y = np.random.rand(64, 4).astype("float32"), np.arange(64) % 2
    >>> result = tlk.lr_find(model, (x, y), num_iter=20, verbose=0)
    >>> sorted(result.suggestions)
    ['minimum', 'steep', 'valley']
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(
            "Need 0 < start_lr < end_lr. Received: "
            f"start_lr={start_lr!r}, end_lr={end_lr!r}"
        )
    if num_iter < 5:
        raise ValueError(f"`num_iter` must be >= 5. Received: {num_iter!r}")
    if getattr(model, "optimizer", None) is None:
        raise ValueError("lr_find needs a compiled model: call compile().")
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    weights = [np.array(v) for v in model.weights]
    state = [
        np.array(keras.ops.convert_to_numpy(v)) for v in optimizer.variables
    ]
    try:
        base_lr = float(
            keras.ops.convert_to_numpy(inner_optimizer(optimizer).learning_rate)
        )
        set_learning_rate(optimizer, base_lr)
    except (AttributeError, TypeError) as error:
        raise ValueError(
            "lr_find sets the learning rate step by step, so the optimizer "
            f"needs a float rate, not a schedule ({error})."
        ) from error
    batches = _batches(train, batch_size)
    progress = keras.utils.Progbar(
        num_iter, verbose=verbose, stateful_metrics=["lr", "loss"]
    )
    rates, losses = [], []
    average, best = 0.0, math.inf
    try:
        for i in range(num_iter):
            rate = start_lr * (end_lr / start_lr) ** (i / (num_iter - 1))
            set_learning_rate(optimizer, rate)
            x, y = next(batches)
            loss = float(model.train_on_batch(x, y, return_dict=True)["loss"])
            average = beta * average + (1 - beta) * loss
            smoothed = average / (1 - beta ** (i + 1))
            rates.append(rate)
            losses.append(smoothed)
            progress.update(i + 1, [("lr", rate), ("loss", smoothed)])
            best = min(best, smoothed)
            if stop_div and (smoothed > 4 * best or not math.isfinite(loss)):
                break
    finally:
        for variable, value in zip(model.weights, weights):
            variable.assign(value)
        # Last, so every rate variable (one per group) comes back exactly.
        for variable, value in zip(optimizer.variables, state):
            variable.assign(value)
    result = LRFinderResult(rates, losses, suggest(rates, losses, num_iter))
    if plot:
        result.plot(plot)
    return result


def _batches(train, batch_size):
    if isinstance(train, tuple):
        x, y = train
        # Whole batches only, but at least one batch even when the data is
        # smaller than `batch_size` (else this loop would never yield).
        stop = max(len(x) - batch_size + 1, 1)
        while True:
            for start in range(0, stop, batch_size):
                yield (
                    x[start : start + batch_size],
                    y[start : start + batch_size],
                )
    else:
        while True:
            for batch in train:
                yield batch[0], batch[1]


def suggest(rates, losses, num_iter: int) -> Dict[str, float]:
    """fastai's suggestions for a swept curve, by its rules exactly
    (`fastai/callback/schedule.py`: `Learner.lr_find`, `valley`, `minimum`,
    `steep`).

    The curve is first trimmed as fastai trims it: the first
    `num_iter // 10` points (the smoothing's warm-up) and the last 5 (the
    divergence) are dropped; when fewer than 2 points would remain, the
    whole curve is used. Then:

    - `minimum`: the rate at the lowest loss, divided by 10;
    - `steep`: the rate where the forward difference of the loss against
      log rate is lowest;
    - `valley`: in the longest strictly decreasing subsequence of losses,
      the point a third and a sixth of the way along (the loop as fastai
      writes it, which records the subsequence's start when its end first
      grows, inside the inner loop).

    Example:

    >>> rates = [10.0 ** (k / 10 - 7) for k in range(40)]
    >>> losses = [2.0] * 10 + [2.0 - k / 20 for k in range(20)] + [9.0] * 10
    >>> s = suggest(rates, losses, num_iter=40)
    >>> round(s["minimum"] / rates[29], 3), s["valley"] == rates[18]
    (0.1, True)
    """
    rates = np.asarray(rates, "float64")
    losses = np.asarray(losses, "float64")
    trimmed = slice(num_iter // 10, -5)
    if len(rates[trimmed]) >= 2:
        rates, losses = rates[trimmed], losses[trimmed]
    suggestions = {"minimum": float(rates[int(np.argmin(losses))] / 10)}
    slopes = np.diff(losses) / np.diff(np.log(rates))
    suggestions["steep"] = float(rates[int(np.argmin(slopes))])
    n = len(losses)
    longest = [1] * n
    start = end = 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and longest[i] < longest[j] + 1:
                longest[i] = longest[j] + 1
            if longest[end] < longest[i]:
                end = i
                start = end - longest[end]
    sections = (end - start) / 3
    index = start + int(sections) + int(sections / 2)
    suggestions["valley"] = float(rates[index])
    return suggestions
