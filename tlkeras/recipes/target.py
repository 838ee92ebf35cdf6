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

# A dataset is read into memory to hold a share of it out; past this size
# `fine_tune` asks for `validation_data` instead.
MAX_HOLDOUT_BYTES = 2**31


@dataclasses.dataclass(frozen=True)
class Setting:
    """The fine-tuning stage of one target: its rate and BN policy."""

    name: str
    lr: float
    bn: Optional[str]

    def describe(self, model_bn: Optional[str] = None) -> str:
        """In words; `model_bn` is the model's policy, for `bn=None`."""
        words = {
            None: "the model's BN policy",
            "frozen": "BN statistics fixed",
            "train": "BN statistics trained",
        }
        return f"lr {self.lr:g}, {words[self.bn or model_bn]}"


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

    The head stage runs once, on `train` against `validation_data`, or
    without it on a stratified `holdout` share of `train` held out; each
    candidate then fine-tunes from that head (`run`, silent, keeping its
    best epoch). `model` ends with the weights and BN policy it started
    with.

    Example:

    >>> # chosen, losses = choose(model, settings("auto", 1e-3, None, None),
    >>> #                         (x, y), None, run)  # as fine_tune does
    """
    x, y = train
    options = {}
    if validation_data is None:
        if isinstance(x, tf.data.Dataset):
            options["batch_size"] = batch_size_of(x)
        (x, y), validation_data = _holdout(x, y, holdout, seed)
    initial = model.get_weights()
    # A trial's BN policy becomes the model's (`freezing.apply`): keep it.
    policy = getattr(model, "bn", None)
    run(model, (x, y), validation_data, fine_tune_epochs=0, **options)
    head = model.get_weights()
    losses = {}
    for setting in candidates:
        model.set_weights(head)
        history = run(
            model,
            (x, y),
            validation_data,
            head_epochs=0,
            setting=setting,
            **options,
        )
        losses[setting.name] = float(np.min(history.history["val_loss"]))
    model.set_weights(initial)
    if policy is not None:
        model.bn = policy
    best = min(candidates, key=lambda s: losses[s.name])
    if losses[best.name] >= (1 - MARGIN) * losses[candidates[0].name]:
        best = candidates[0]
    return best, losses


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
    keys = labels.reshape(len(labels), -1)
    if keys.shape[1] > 1:
        keys = keys.argmax(1)  # one-hot or multi-label: by the first label
    elif np.issubdtype(keys.dtype, np.floating) and not np.all(
        keys == np.round(keys)
    ):
        keys = np.zeros(len(keys), "int64")  # regression: one stratum
    else:
        keys = keys[:, 0]
    held = []
    for value in np.unique(keys):
        members = rng.permutation(np.flatnonzero(keys == value))
        if len(members) > 1:
            held.extend(members[: max(1, round(share * len(members)))])
    held = np.sort(np.array(held, "int64"))
    if len(held) == 0:
        raise ValueError(
            "Too few examples to hold any out: pass `validation_data`, or "
            "an int number of head epochs."
        )
    return np.setdiff1d(np.arange(len(labels)), held), held


def _holdout(x, y, share, seed):
    """`(fit, held)` pairs of arrays; a dataset is read into memory."""
    if isinstance(x, tf.data.Dataset):
        x, y = _arrays(x)
    fit, held = stratified_split(np.asarray(y), share, seed)

    def take(index):
        return keras.tree.map_structure(lambda a: np.asarray(a)[index], x)

    return (take(fit), np.asarray(y)[fit]), (take(held), np.asarray(y)[held])


def _arrays(dataset: tf.data.Dataset):
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
