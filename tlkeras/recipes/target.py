"""How far the task is from the pretraining data, measured on held-out data:
it sets the fine-tuning stage's rate and BatchNormalization.

A base pretrained on data close to the task ("near": ImageNet features for
photos of ants and bees) is best touched little: the converged head, then
the whole network at `lr / 100` with the BN statistics kept (Kumar et al.
2022). A base far from it ("far": a network pretrained on other digits, or
on photos for X-rays) has features a linear head cannot use; the network
must re-learn them at the head's rate, its BN statistics included
(Yosinski et al. 2014; Li et al. 2016, AdaBN). Which one a task is, the
data says: `fine_tune(target="auto")` fine-tunes both ways from the same
converged head on a share of the training data and keeps "near" unless
"far" has a clearly lower held-out loss. Each is costly on the other's
task (the README's "The default recipe" measures both): on the digits
demo, "near" fine-tuning leaves the test accuracy 35-43 points under
"far"; on the photos, "far" loses 10 to 19 points to "near".
"""

import dataclasses
from typing import Callable
from typing import Dict
from typing import List
from typing import Optional
from typing import Tuple

import keras
import numpy as np
import tensorflow as tf

from tlkeras.cached.features import batch_size_of

TARGETS = ("auto", "near", "far")

# Another target replaces the first (the gentle "near") only when its
# held-out loss is lower by more than this share: on a close task fine-tuning
# at the head's rate can cost ten points (measured on the photos), so a
# near-tie is no evidence for it.
MARGIN = 0.1

# Below this many training examples (and without `validation_data`), one
# held-out fifth is too few to measure a loss by: on seed 4 of the digits
# demo (15 images) the 5 held out chose "near" and the default recipe
# reached 0.463 test accuracy; measured on every fifth in turn (stratified
# 5-fold cross-validation, each example held out once) it chose "far" and
# reached 0.760. At that size the extra trials cost seconds (the demo's
# default row: 14 s -> 50 s).
CROSS_VALIDATE_BELOW = 100

# A dataset is read into memory to hold a share of it out; past this size
# `fine_tune` asks for `validation_data` instead.
MAX_HOLDOUT_BYTES = 2**31


@dataclasses.dataclass(frozen=True)
class Setting:
    """The fine-tuning stage of one target: its rate and BN policy."""

    name: str
    lr: float
    bn: Optional[str]

    def describe(
        self, model_bn: Optional[str] = None, spread: Optional[float] = None
    ) -> str:
        """In words; `model_bn` is the model's policy, for `bn=None`;
        `spread`, rates from `lr / spread` to `lr` across layer groups."""
        words = {
            None: "the model's BN policy",
            "frozen": "BN statistics fixed",
            "train": "BN statistics trained",
        }
        rate = f"lr {self.lr:g}"
        if spread:
            rate = f"lr {self.lr / spread:g} to {self.lr:g} by layer group"
        return f"{rate}, {words[self.bn or model_bn]}"


def settings(
    target: str, lr: float, fine_tune_lr: Optional[float], bn: Optional[str]
) -> List[Setting]:
    """The settings `target` leaves to choose from (explicit `fine_tune_lr`
    and `bn` win over the target's).

    Example:

    >>> [s.lr for s in settings("auto", 1e-3, None, None)]
    [1e-05, 0.001]
    >>> settings("near", 1e-3, None, None)[0].describe()
    "lr 1e-05, the model's BN policy"
    >>> settings("near", 1e-3, None, "frozen")[0].describe(spread=10)
    'lr 1e-06 to 1e-05 by layer group, BN statistics fixed'
    """
    if target not in TARGETS:
        raise ValueError(
            f"`target` must be one of {TARGETS}. Received: target={target!r}"
        )
    near = Setting(
        "near", lr / 100 if fine_tune_lr is None else fine_tune_lr, bn
    )
    far = Setting(
        "far",
        lr if fine_tune_lr is None else fine_tune_lr,
        "train" if bn is None else bn,
    )
    if target != "auto":
        return [near if target == "near" else far]
    return [near] if (near.lr, near.bn) == (far.lr, far.bn) else [near, far]


def choose(
    model: keras.Model,
    candidates: List[Setting],
    train: Tuple[object, object],
    validation_data,
    run: Callable[..., keras.callbacks.History],
    *,
    holdout: float = 0.2,
    seed: int = 0,
) -> Tuple[Setting, Dict[str, float]]:
    """Fine-tune `model` from one converged head with each candidate setting
    and return the one of lowest validation loss (the first unless another
    is lower by more than `MARGIN`), with every candidate's loss.

    The head stage runs on `train` against `validation_data`; without it,
    on a stratified `holdout` share of `train` held out, or, below
    `CROSS_VALIDATE_BELOW` examples, on each of `1 / holdout` stratified
    folds in turn (the losses then average over every example). Each
    candidate fine-tunes from that head (`run`, silent, keeping its best
    epoch). `model` ends with the weights and BN policy it started with.

    Example (`fine_tune` passes its own stages as `run`; this one only
    reports a loss per setting):

    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    >>> def run(model, data, validation, setting=None, **options):
    ...     history = keras.callbacks.History()
    ...     name = setting and setting.name
    ...     loss = {None: 1.0, "near": 0.4, "far": 0.38}[name]
    ...     history.history = {"val_loss": [loss]}
    ...     return history
    >>> x, y = np.zeros((200, 2), "float32"), np.arange(200) % 2
    >>> candidates = settings("auto", 1e-3, None, None)
    >>> chosen, losses = choose(model, candidates, (x, y), None, run)
    >>> chosen.name, losses  # "far" is not lower by MARGIN: "near"
    ('near', {'near': 0.4, 'far': 0.38})
    """
    x, y = train
    options = {}
    if validation_data is None:
        if isinstance(x, tf.data.Dataset):
            options["batch_size"] = batch_size_of(x)
            x, y = dataset_arrays(x)
        y = np.asarray(y)
        helds = held_out(y, holdout, seed)
        # Each split's loss weighs by its share of the held-out examples:
        # folds average over every example, one split is its own loss.
        total = sum(len(held) for held in helds)
        splits = [(*_split(x, y, held), len(held) / total) for held in helds]
    else:
        splits = [((x, y), validation_data, 1.0)]
    initial = model.get_weights()
    # A trial's BN policy becomes the model's (`freezing.apply`): each
    # trial starts from, and the model ends with, the policy it came with.
    policy = getattr(model, "bn", None)

    def restore(weights):
        model.set_weights(weights)
        if policy is not None:
            model.bn = policy

    losses = {setting.name: 0.0 for setting in candidates}
    for data, validation, weight in splits:
        restore(initial)
        run(model, data, validation, fine_tune_epochs=0, **options)
        head = model.get_weights()
        for setting in candidates:
            restore(head)
            history = run(
                model,
                data,
                validation,
                head_epochs=0,
                setting=setting,
                **options,
            )
            loss = float(np.min(history.history["val_loss"]))
            losses[setting.name] += weight * loss
    restore(initial)
    best = min(candidates, key=lambda s: losses[s.name])
    if losses[best.name] >= (1 - MARGIN) * losses[candidates[0].name]:
        best = candidates[0]
    return best, losses


def held_out(labels: np.ndarray, share: float, seed: int) -> List[np.ndarray]:
    """The indices held out to measure on: one stratified `share`, or,
    below `CROSS_VALIDATE_BELOW` examples, every example once over
    `round(1 / share)` stratified folds.

    Example:

    >>> [len(h) for h in held_out(np.arange(200) % 2, 0.2, 0)]
    [40]
    >>> [len(h) for h in held_out(np.arange(15) % 5, 0.2, 0)]
    [3, 3, 3, 3, 3]
    """
    if len(labels) >= CROSS_VALIDATE_BELOW:
        return [stratified_split(labels, share, seed)[1]]
    if len(labels) < 2:
        raise ValueError(_TOO_FEW)
    folds = max(2, round(1 / share))
    rng = np.random.default_rng(seed)
    keys = _strata(labels)
    fold = np.empty(len(keys), "int64")
    start = 0
    for value in np.unique(keys):
        members = rng.permutation(np.flatnonzero(keys == value))
        # Classes continue where the last left off: folds of even size.
        fold[members] = (start + np.arange(len(members))) % folds
        start += len(members)
    return [np.flatnonzero(fold == i) for i in range(min(folds, len(keys)))]


def stratified_split(labels: np.ndarray, share: float, seed: int):
    """Indices to fit on and to hold out: `share` of each class held out
    (at least one example of a class with two or more); a random `share`
    for real-valued (regression) labels.

    Example:

    >>> fit, held = stratified_split(np.array([0, 0, 0, 0, 1, 1]), 0.25, 0)
    >>> len(fit), len(held)
    (4, 2)
    """
    rng = np.random.default_rng(seed)
    keys = _strata(labels)
    held = []
    for value in np.unique(keys):
        members = rng.permutation(np.flatnonzero(keys == value))
        if len(members) > 1:
            held.extend(members[: max(1, round(share * len(members)))])
    held = np.sort(np.array(held, "int64"))
    if len(held) == 0:
        raise ValueError(_TOO_FEW)
    return np.setdiff1d(np.arange(len(labels)), held), held


_TOO_FEW = (
    "Too few examples to hold any out: pass `validation_data`, or an int "
    "number of head epochs."
)


def _strata(labels: np.ndarray) -> np.ndarray:
    """One key per example to stratify by: its class (a one-hot or
    multi-label row's first label), or one stratum for real values."""
    keys = labels.reshape(len(labels), -1)
    if keys.shape[1] > 1:
        return keys.argmax(1)
    if np.issubdtype(keys.dtype, np.floating) and not np.all(
        keys == np.round(keys)
    ):
        return np.zeros(len(keys), "int64")  # regression: one stratum
    return keys[:, 0]


def _split(x, y, held):
    """`(fit, held)` pairs of arrays: `held` indexes the held-out ones."""
    fit = np.setdiff1d(np.arange(len(y)), held)

    def take(index):
        return keras.tree.map_structure(lambda a: np.asarray(a)[index], x)

    return (take(fit), y[fit]), (take(held), y[held])


def dataset_arrays(dataset: tf.data.Dataset):
    """`(x, y)` arrays of a dataset of `(inputs, labels)` batches, read in
    one pass, refused past `MAX_HOLDOUT_BYTES`.

    Example:

    >>> data = tf.data.Dataset.from_tensor_slices(
    ...     (np.zeros((5, 2)), np.arange(5))).batch(2)
    >>> x, y = dataset_arrays(data)
    >>> x.shape, y.tolist()
    ((5, 2), [0, 1, 2, 3, 4])
    """
    xs, ys, size = [], [], 0
    for batch in dataset:
        if not isinstance(batch, tuple) or len(batch) != 2:
            raise ValueError(
                "fine_tune(target='auto') holds out a share of a dataset of "
                "(inputs, labels) batches; this one yields "
                f"{type(batch).__name__} elements. Pass `validation_data`, "
                "or target='near' or 'far'."
            )
        batch = keras.tree.map_structure(np.asarray, batch)
        size += sum(a.nbytes for a in keras.tree.flatten(batch))
        if size > MAX_HOLDOUT_BYTES:
            raise ValueError(
                "fine_tune(target='auto') holds out a share of the training "
                f"data, and this dataset is over {MAX_HOLDOUT_BYTES:,} bytes "
                "in memory. Pass `validation_data`, or target='near' or "
                "'far'."
            )
        xs.append(batch[0])
        ys.append(batch[1])
    x = keras.tree.map_structure(lambda *a: np.concatenate(a), *xs)
    return x, np.concatenate(ys)
