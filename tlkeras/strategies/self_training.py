"""Self-training: pseudo-label confident unlabelled examples, retrain."""

import dataclasses
from typing import List
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from tlkeras.data import augmentation_layers
from tlkeras.strategies.outputs import gives_probabilities
from tlkeras.tasks import task_of


@dataclasses.dataclass
class SelfTrainingRound:
    """What one round of `self_train` did.

    Attributes:
        round: the round's number, from 1.
        pseudo_labels: how many unlabelled examples were confident enough
            to be taken (their confidence above the threshold).
        accuracy: the taken pseudo-labels' accuracy, when the true labels
            were given (else `None`).
        history: the round's `fit` history (`History.history`).
    """

    round: int
    pseudo_labels: int
    accuracy: Optional[float]
    history: dict


@dataclasses.dataclass
class SelfTrainingHistory:
    """The rounds of `self_train`; prints as a table."""

    rounds: List[SelfTrainingRound]

    def __str__(self) -> str:
        lines = ["round  pseudo-labels  their accuracy"]
        for r in self.rounds:
            accuracy = "" if r.accuracy is None else f"{r.accuracy:.3f}"
            lines.append(f"{r.round:>5}  {r.pseudo_labels:>13}  {accuracy:>14}")
        return "\n".join(lines)


def self_train(
    model: keras.Model,
    labeled,
    unlabeled,
    *,
    rounds: int = 3,
    threshold: float = 0.95,
    epochs: int = 5,
    batch_size: int = 32,
    fixmatch: bool = False,
    balance: bool = True,
    weak="light",
    strong="standard",
    verbose: int = 1,
    **fit_kwargs,
) -> SelfTrainingHistory:
    """Self-training: each round, label the unlabelled examples the model
    is confident about and train on them with the labelled ones.

    A round predicts the unlabelled examples, takes those whose confidence
    (top class probability) is strictly above `threshold` with their
    predicted class (every round starts from all the unlabelled examples:
    a pseudo-label can change or drop out), and runs `fit` for `epochs` on
    the labelled examples and the taken ones. With `balance` (default), no
    class gives more pseudo-labels than the median class (its most
    confident ones): otherwise the easy classes swamp the rest and the
    model drifts toward them (class-balanced self-training, Zou et al.
    2018). Start from a model trained on
    the labelled data; it must be compiled (the rounds keep its optimizer).

    With `fixmatch=True` (FixMatch-style, Sohn et al. 2020, one labelling
    per round): the pseudo-labels come from a weakly augmented view of each
    example (`weak`), and the model trains on strongly augmented views of
    them (`strong`), the labelled examples weakly augmented.

    Args:
        model: a compiled classifier (a `tlkeras.TransferModel`, or a
            `keras.Model` with softmax or logit outputs over 2+ classes, or
            one sigmoid output).
        labeled: `(x, y)` arrays.
        unlabeled: `x` array, or `(x, y_true)` to report how accurate the
            pseudo-labels are (the true labels are never trained on).
        rounds: int >= 1. Defaults to `3`.
        threshold: float in (0, 1), strict. Defaults to `0.95` (TLlib's
            and FixMatch's).
        epochs: int, epochs of `fit` per round. Defaults to `5`.
        batch_size: int. Defaults to `32`.
        fixmatch: bool, as above. Defaults to `False`.
        balance: bool, cap each class's pseudo-labels at the median
            class's count. Defaults to `True`.
        weak, strong: augmentation presets (`tlkeras.data.PRESETS`) or Keras
            layers, for `fixmatch`. Default to `"light"` and `"standard"`.
        verbose: int, 1 prints a line per round. Defaults to `1`.
        **fit_kwargs: passed to each round's `fit` (e.g. `callbacks`,
            `validation_data`).

    Returns:
        A `SelfTrainingHistory`: per round, how many pseudo-labels were
        taken and how accurate they were.

    Example:

    >>> import numpy as np, keras
    >>> model = keras.Sequential([keras.Input((4,)),
    ...                           keras.layers.Dense(3, activation="softmax")])
    >>> model.compile("adam", "sparse_categorical_crossentropy")
    >>> x = np.random.rand(40, 4).astype("float32")
    >>> history = self_train(model, (x[:10], np.arange(10) % 3), x[10:],
    ...                      rounds=2, threshold=0.3, epochs=1, verbose=0)
    >>> [r.round for r in history.rounds]
    [1, 2]
    """
    if not (isinstance(threshold, (int, float)) and 0 < threshold < 1):
        raise ValueError(
            "`threshold` is a confidence, strictly between 0 and 1. "
            f"Received: threshold={threshold!r}"
        )
    if not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"`rounds` must be an int >= 1. Received: {rounds!r}")
    if getattr(model, "optimizer", None) is None:
        raise ValueError(
            "self_train needs a compiled model (it keeps its optimizer, "
            "loss and metrics). Call model.compile(...) first."
        )
    task = task_of(model)
    if task is not None and task.name not in ("multiclass", "binary"):
        raise ValueError(
            f"self_train pseudo-labels classes; the model's task is "
            f"{task.name!r}."
        )
    x_l, y_l = (np.asarray(a) for a in labeled)
    if isinstance(unlabeled, (tuple, list)):
        x_u, y_true = np.asarray(unlabeled[0]), np.asarray(unlabeled[1])
    else:
        x_u, y_true = np.asarray(unlabeled), None
    weak_layer = augmentation_layers(weak) if fixmatch else None
    strong_layer = augmentation_layers(strong) if fixmatch else None
    probabilities = gives_probabilities(model)
    fit_kwargs.setdefault("shuffle", False)  # the dataset shuffles itself
    history = []
    for number in range(1, rounds + 1):
        seen = x_u if weak_layer is None else _augmented(weak_layer, x_u)
        confidence, labels = _confidence(
            model.predict(seen, batch_size=batch_size, verbose=0),
            probabilities,
        )
        taken = confidence > threshold
        if balance:
            taken = _balanced(taken, confidence, labels)
        accuracy = None
        if y_true is not None and taken.any():
            truth = y_true.reshape(len(y_true), -1)[:, 0]
            accuracy = float(np.mean(labels[taken] == truth[taken]))
        data = _training_data(
            (x_l, y_l),
            (
                x_u[taken],
                labels[taken].astype(y_l.dtype).reshape((-1,) + y_l.shape[1:]),
            ),
            weak_layer,
            strong_layer,
            batch_size,
        )
        fit = model.fit(data, epochs=epochs, verbose=0, **fit_kwargs)
        history.append(
            SelfTrainingRound(number, int(taken.sum()), accuracy, fit.history)
        )
        if verbose:
            told = "" if accuracy is None else f", {accuracy:.1%} right"
            print(
                f"self-training round {number}/{rounds}: "
                f"{int(taken.sum())} of {len(x_u)} pseudo-labels{told}"
            )
    return SelfTrainingHistory(history)


def _balanced(taken, confidence, labels):
    """At most the median per-class count of confident examples from each
    class, the most confident first, so that easy classes do not swamp
    the rest (class-balanced self-training, Zou et al. 2018)."""
    classes = np.unique(labels[taken])
    if len(classes) == 0:
        return taken
    counts = [int(np.sum(taken & (labels == c))) for c in classes]
    cap = int(np.median(counts))
    kept = np.zeros_like(taken)
    for c in classes:
        index = np.where(taken & (labels == c))[0]
        best = index[np.argsort(-confidence[index], kind="stable")[:cap]]
        kept[best] = True
    return kept


def _confidence(outputs, probabilities):
    """(confidence, class) per example."""
    outputs = np.asarray(outputs, "float32")
    if outputs.ndim == 1 or outputs.shape[-1] == 1:
        p = outputs.reshape(-1)
        p = p if probabilities else 1.0 / (1.0 + np.exp(-p))
        return np.maximum(p, 1.0 - p), (p > 0.5).astype("int64")
    if not probabilities:
        z = outputs - outputs.max(-1, keepdims=True)
        outputs = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    return outputs.max(-1), outputs.argmax(-1)


def _augmented(layer, x, batch_size=256):
    return np.concatenate(
        [
            keras.ops.convert_to_numpy(
                layer(x[i : i + batch_size], training=True)
            )
            for i in range(0, len(x), batch_size)
        ]
    )


def _training_data(labeled, pseudo, weak, strong, batch_size):
    parts = []
    for (x, y), layer in ((labeled, weak), (pseudo, strong)):
        if len(x) == 0:
            continue
        part = tf.data.Dataset.from_tensor_slices((x, y))
        if layer is not None:
            part = (
                part.batch(batch_size)
                .map(lambda a, b, layer=layer: (layer(a, training=True), b))
                .unbatch()
            )
        parts.append(part)
    data = parts[0]
    for part in parts[1:]:
        data = data.concatenate(part)
    count = sum(len(p[0]) for p in (labeled, pseudo))
    return (
        # Known length (`unbatch` forgets it): Keras then stops each epoch
        # without its "ran out of data" warning.
        data.apply(tf.data.experimental.assert_cardinality(count))
        .shuffle(count, reshuffle_each_iteration=True)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
