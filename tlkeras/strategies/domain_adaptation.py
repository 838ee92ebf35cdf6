"""`DomainAdaptation`: train a model on labelled source data and unlabelled
target data with `fit` (DANN, CDAN, MK-MMD, CORAL, MCC)."""

import math
from typing import Optional
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tlkeras import freezing
from tlkeras import losses
from tlkeras.builders.transfer_model import recompile
from tlkeras.data import zip_domains
from tlkeras.strategies.gradient_reversal import ganin_ramp
from tlkeras.strategies.gradient_reversal import gradient_reversal
from tlkeras.strategies.outputs import as_logits
from tlkeras.strategies.outputs import gives_probabilities
from tlkeras.tasks import task_of
from tlkeras.training import unpin_train_graphs

METHODS = ("dann", "cdan", "mmd", "coral", "mcc")
_ADVERSARIAL = ("dann", "cdan")
# CDAN's discriminator sees the features' outer product with the
# predictions up to this size, a randomized product above (TLlib).
CDAN_MAX_OUTER = 4096


class _Holder:
    """A plain attribute Keras does not track (the extractor shares the
    wrapped model's layers, which the wrapper saves once)."""

    def __init__(self, value):
        self.value = value


@keras.saving.register_keras_serializable(package="tlkeras")
class DomainAdaptation(keras.Model):
    """Adapt `model` to an unlabelled target domain while it learns the
    labelled source, with plain `fit`.

    Each step sees a source batch and a target batch, in one forward pass
    through the model (so BatchNormalization sees both domains); the loss
    is the task loss on the source plus `weight` times the method's
    transfer loss on the features (the base's pooled output, or the head's
    hidden layer with `features="bottleneck"`):

    - `"dann"` (Ganin & Lempitsky 2015): a domain discriminator (TLlib's:
      1024-1024 with BatchNorm and ReLU) learns to tell the domains apart
      through a gradient-reversal layer, so the features learn not to; the
      reversal coefficient follows Ganin's ramp
      `2 / (1 + exp(-gamma p)) - 1` over the progress `p` of this `fit`
      (kept in a variable, saved and restored with the weights);
    - `"cdan"` (Long et al. 2018): the discriminator sees the features'
      multilinear map with the (stopped) predictions, randomized above
      4096 dimensions, examples weighted by `1 + exp(-entropy)`;
    - `"mmd"` (DAN, Long et al. 2015): multi-kernel MMD between the
      domains' features (`tlkeras.losses.mmd`; `estimator="linear"` or
      `"quadratic"`);
    - `"coral"` (Sun & Saenko 2016): `||C_s - C_t||_F^2 / (4 d^2)`, added to
      the task loss (the encoder trains on both: ADAPT's DeepCORAL trains it
      on the CORAL term alone);
    - `"mcc"` (Jin et al. 2020): minimum class confusion of the target
      predictions, temperature 2.5.

    `model` is trained in place: afterwards it predicts, evaluates and
    saves alone. `evaluate`, `predict` and `validation_data` on the
    wrapper take plain (target) examples.

    Args:
        model: a `tlkeras.TransferModel`, or any functional `keras.Model`
            with `features=` naming the layer whose output is the features.
        method: one of `"dann"`, `"cdan"`, `"mmd"`, `"coral"`, `"mcc"`.
            Defaults to `"dann"`.
        weight: float >= 0, the transfer loss's weight. Defaults to `1.0`.
        features: `"pooled"` (the base's pooled output), `"bottleneck"`
            (the head's last hidden layer: build with
            `head=tlk.heads.MLP(units=(256,))`), or a layer name. Defaults
            to `"pooled"`.
        discriminator_units: the domain discriminator's hidden sizes.
            Defaults to `(1024, 1024)`.
        gamma: float, the ramp's steepness. Defaults to `10.0`.
        estimator: MMD's estimator, `"linear"` or `"quadratic"`. Defaults
            to `"linear"`.
        temperature: MCC's temperature. Defaults to `2.5`.

    Example:

    >>> import numpy as np, tlkeras as tlk
    >>> base = keras.Sequential([keras.Input((16, 16, 3)),
    ...                          keras.layers.Conv2D(8, 3, activation="relu")])
    >>> model = tlk.build_classifier(base, num_classes=3, freeze="none")
    >>> da = tlk.strategies.DomainAdaptation(model, method="coral")
    >>> da.compile()
    >>> x_s = np.random.rand(8, 16, 16, 3).astype("float32")
    >>> x_t = np.random.rand(6, 16, 16, 3).astype("float32")
    >>> history = da.fit((x_s, x_t), np.arange(8) % 3, batch_size=4,
    ...                  epochs=1, verbose=0)
    >>> sorted(history.history)
    ['accuracy', 'loss', 'task_loss', 'transfer_loss']
    """

    def __init__(
        self,
        model: keras.Model,
        method: str = "dann",
        *,
        weight: float = 1.0,
        features: str = "pooled",
        discriminator_units: Sequence[int] = (1024, 1024),
        gamma: float = 10.0,
        estimator: str = "linear",
        temperature: float = 2.5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if method not in METHODS:
            raise ValueError(
                f"`method` must be one of {METHODS}. Received: method="
                f"{method!r}"
            )
        if not (
            isinstance(weight, (int, float))
            and math.isfinite(weight)
            and weight >= 0
        ):
            raise ValueError(
                f"`weight` must be a finite float >= 0. Received: weight="
                f"{weight!r}"
            )
        if estimator not in losses.MMD_ESTIMATORS:
            raise ValueError(
                f"`estimator` must be one of {losses.MMD_ESTIMATORS}. "
                f"Received: estimator={estimator!r}"
            )
        if not temperature > 0:
            raise ValueError(
                f"`temperature` must be > 0. Received: temperature="
                f"{temperature!r}"
            )
        # === Layers ===
        self.model = model
        extractor, classes = _extractor(model, features)
        self._extractor = _Holder(extractor)
        self.probabilities = gives_probabilities(model)
        if method in ("cdan", "mcc") and not classes:
            raise ValueError(
                f"{method!r} needs class probabilities: a multiclass model "
                "(softmax or logits over 2 or more classes)."
            )
        feature_dim = int(np.prod(extractor.outputs[0].shape[1:]))
        self.discriminator = None
        self.projections = None
        if method in _ADVERSARIAL:
            inputs = feature_dim
            if method == "cdan" and feature_dim * classes > CDAN_MAX_OUTER:
                # Fixed Gaussian projections (TLlib's randomized map).
                self.projections = [
                    self.add_weight(
                        name=name,
                        shape=(size, 1024),
                        initializer=keras.initializers.RandomNormal(),
                        trainable=False,
                    )
                    for name, size in (
                        ("projection_features", feature_dim),
                        ("projection_predictions", classes),
                    )
                ]
                inputs = 1024
            elif method == "cdan":
                inputs = feature_dim * classes
            self.discriminator = _discriminator(discriminator_units, inputs)
        # === Ramp state: saved with the weights, so a resumed run goes on
        # from where it stopped ===
        self.progress = self.add_weight(
            name="progress", shape=(), initializer="zeros", trainable=False
        )
        self.total_steps = self.add_weight(
            name="total_steps", shape=(), initializer="ones", trainable=False
        )
        self.task_loss_tracker = keras.metrics.Mean(name="task_loss")
        self.transfer_loss_tracker = keras.metrics.Mean(name="transfer_loss")

        # === Config ===
        self.method = method
        self.weight = float(weight)
        self.features = features
        self.discriminator_units = tuple(int(u) for u in discriminator_units)
        self.gamma = float(gamma)
        self.estimator = estimator
        self.temperature = float(temperature)
        # Everything it holds is built (BackupAndRestore checks).
        self.built = True

    # === Layer groups: the wrapped model's, the discriminator a head ===

    def tlk_layer_groups(self) -> list:
        """The wrapped model's groups, with the discriminator beside the
        head: it always trains and gets the head's rate."""
        groups = [
            freezing.LayerGroup(g.name, g.layers, self)
            for g in freezing.layer_groups(self.model)
        ]
        if self.discriminator is not None:
            groups.insert(
                len(groups) - 1,
                freezing.LayerGroup(
                    "discriminator", [self.discriminator], self
                ),
            )
        return groups

    @property
    def tlk_head_groups(self) -> int:
        """How many of the last groups are heads."""
        return 1 + (self.discriminator is not None)

    @property
    def bn(self) -> str:
        """The wrapped model's BatchNormalization policy."""
        return getattr(self.model, "bn", "frozen")

    # === Training ===

    def make_train_function(self, force=False):
        # A new model, a new trace: let it be freed with the model.
        unpin_train_graphs(self.optimizer)
        return super().make_train_function(force=force)

    def compile(self, optimizer="adam", loss="auto", metrics="auto", **kwargs):
        """`keras.Model.compile`; `"auto"` takes the loss and metrics of the
        wrapped model's task (sparse cross-entropy and accuracy for a
        classifier, from logits or not as the model outputs)."""
        task = task_of(self.model)
        logits = not self.probabilities
        if loss == "auto":
            if task is None:
                loss = keras.losses.SparseCategoricalCrossentropy(
                    from_logits=logits
                )
            else:
                loss = task.loss(logits)
        if metrics == "auto":
            metrics = ["accuracy"] if task is None else task.metrics(logits)
        self._task_loss = keras.losses.get(loss)
        super().compile(
            optimizer=optimizer, loss=loss, metrics=metrics, **kwargs
        )

    def compile_from_config(self, config):
        recompile(self, config)

    def fit(
        self,
        x=None,
        y=None,
        *,
        batch_size: Optional[int] = None,
        epochs: int = 1,
        steps_per_epoch: Optional[int] = None,
        sample_weight=None,
        shuffle: bool = True,
        **kwargs,
    ):
        """`keras.Model.fit` on `((x_source, x_target), y_source)`.

        `x=(x_source, x_target)` arrays with `y=y_source` (lengths may
        differ: an epoch covers the longer, the shorter starts over), or a
        dataset of `((x_source, x_target), y_source)` batches such as
        `tlkeras.data.zip_domains(source, target)` gives. `validation_data`
        is labelled target data, `(x, y)`. The ramp of `"dann"` and
        `"cdan"` runs over this call's epochs (a dataset of unknown length
        needs `steps_per_epoch`).
        """
        if isinstance(x, (tuple, list)):
            if len(x) != 2 or y is None:
                raise ValueError(
                    "Pass x=(x_source, x_target) with y=y_source (labels "
                    f"for the source). Received x of {len(x)} parts, "
                    f"y={'None' if y is None else 'given'}."
                )
            x = _paired_arrays(x, y, sample_weight, batch_size or 32, shuffle)
            y = sample_weight = None
        elif not isinstance(x, tf.data.Dataset):
            raise TypeError(
                "DomainAdaptation.fit takes x=(x_source, x_target) arrays "
                "with y=y_source, or a dataset of ((x_source, x_target), "
                "y_source) batches (tlkeras.data.zip_domains). Received: "
                f"{type(x).__name__}"
            )
        elif batch_size is not None:
            raise ValueError(
                "`batch_size` cannot be passed with a dataset (its batches "
                "say it)."
            )
        steps = steps_per_epoch or int(x.cardinality())
        if steps < 0 and self.method in _ADVERSARIAL:
            raise ValueError(
                f"{self.method!r} ramps its reversal coefficient over the "
                "training steps: give `steps_per_epoch` for a dataset of "
                "unknown length."
            )
        self.total_steps.assign(float(max(steps, 1) * epochs))
        return super().fit(
            x,
            y,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            sample_weight=sample_weight,
            shuffle=False,  # the dataset shuffles itself
            **kwargs,
        )

    def call(self, inputs, training=None):
        extractor = self._extractor.value
        if not isinstance(inputs, (tuple, list)):
            return self.model(inputs, training=training)
        x_source, x_target = inputs
        features, outputs = extractor(
            ops.concatenate([x_source, x_target], axis=0), training=training
        )
        n = ops.shape(x_source)[0]
        return {
            "source": outputs[:n],
            "target": outputs[n:],
            "source_features": features[:n],
            "target_features": features[n:],
        }

    def coefficient(self):
        """The reversal coefficient now: Ganin's ramp of the progress."""
        return ganin_ramp(self.progress / self.total_steps, self.gamma)

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        if not isinstance(y_pred, dict):  # labelled target data
            task = self._task_loss(y, y_pred, sample_weight=sample_weight)
            self.task_loss_tracker.update_state(task)
            return task
        task = self._task_loss(y, y_pred["source"], sample_weight=sample_weight)
        transfer = self.transfer_loss(y_pred)
        if training:
            self.progress.assign_add(1.0)
        self.task_loss_tracker.update_state(task)
        self.transfer_loss_tracker.update_state(transfer)
        return task + self.weight * transfer

    def transfer_loss(self, y_pred: dict):
        """The method's loss on one step's outputs (see the class docs)."""
        fs = _flat(y_pred["source_features"])
        ft = _flat(y_pred["target_features"])
        if self.method == "mmd":
            return losses.mmd(fs, ft, estimator=self.estimator)
        if self.method == "coral":
            return losses.coral(fs, ft)
        logits = as_logits(
            ops.concatenate([y_pred["source"], y_pred["target"]], axis=0),
            self.probabilities,
        )
        n_source = ops.shape(fs)[0]
        if self.method == "mcc":
            return losses.mcc(logits[n_source:], temperature=self.temperature)
        features = gradient_reversal(
            ops.concatenate([fs, ft], axis=0), self.coefficient()
        )
        labels = ops.concatenate(
            [ops.ones((n_source, 1)), ops.zeros((ops.shape(ft)[0], 1))], 0
        )
        if self.method == "dann":
            d = self.discriminator(features, training=True)
            per_example = _bce(labels, d)
            return 0.5 * (
                ops.mean(per_example[:n_source])
                + ops.mean(per_example[n_source:])
            )
        g = ops.stop_gradient(ops.softmax(ops.cast(logits, "float32")))
        d = self.discriminator(self._multilinear(features, g), training=True)
        entropy = -ops.sum(g * ops.log(g + 1e-5), axis=-1)
        w = 1.0 + ops.exp(-entropy)
        w = ops.stop_gradient(
            w / ops.sum(w) * ops.cast(ops.shape(w)[0], w.dtype)
        )
        return ops.mean(w * _bce(labels, d))

    def _multilinear(self, f, g):
        if self.projections is None:
            outer = g[:, :, None] * f[:, None, :]
            return ops.reshape(outer, (ops.shape(f)[0], -1))
        rf, rg = self.projections
        return ops.matmul(f, rf) * ops.matmul(g, rg) / math.sqrt(1024.0)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if isinstance(y_pred, dict):
            y_pred = y_pred["source"]
        return super().compute_metrics(x, y, y_pred, sample_weight)

    # === Serialization ===

    def get_config(self):
        return {
            "name": self.name,
            "model": keras.layers.serialize(self.model),
            "method": self.method,
            "weight": self.weight,
            "features": self.features,
            "discriminator_units": list(self.discriminator_units),
            "gamma": self.gamma,
            "estimator": self.estimator,
            "temperature": self.temperature,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["model"] = keras.layers.deserialize(
            config["model"], custom_objects=custom_objects
        )
        return cls(**config)


def _extractor(model, features):
    """A functional model `x -> (features, outputs)` sharing `model`'s
    layers, and the number of classes (0 when not multiclass)."""
    if not getattr(model, "built", False) or not getattr(model, "inputs", 0):
        raise ValueError(
            "DomainAdaptation wraps a built functional model (a "
            f"tlkeras.TransferModel, or keras.Model(inputs, outputs)). "
            f"Received: {model!r}"
        )
    head = getattr(model, "head", None)
    if features in ("pooled", "bottleneck") and hasattr(head, "call_pooled"):
        inputs = keras.Input(model.input_shape[1:], dtype=model.inputs[0].dtype)
        z = (
            inputs
            if model.preprocessing is None
            else model.preprocessing(inputs)
        )
        pooled = head.pool_features(model.base(z))
        hidden = head.hidden_features(pooled)
        outputs = head.outputs_from_hidden(hidden)
        chosen = hidden if features == "bottleneck" else pooled
    elif features in ("pooled", "bottleneck"):
        raise ValueError(
            f"features={features!r} needs a tlkeras.TransferModel; for "
            "another model, name the layer whose output is the features "
            "(features='layer_name')."
        )
    else:
        names = [layer.name for layer in model.layers]
        if features not in names:
            raise ValueError(
                f"No layer named {features!r} in model {model.name!r}. "
                f"Its layers: {names}."
            )
        inputs = model.inputs
        chosen = model.get_layer(features).output
        outputs = model.outputs[0]
    extractor = keras.Model(inputs, [chosen, outputs])
    classes = int(outputs.shape[-1])
    task = task_of(model)
    multiclass = (task is None or task.name == "multiclass") and classes > 1
    return extractor, classes if multiclass else 0


def _discriminator(units, inputs):
    layers = [keras.Input((inputs,))]
    for size in units:
        layers += [
            keras.layers.Dense(size),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
        ]
    layers.append(keras.layers.Dense(1))
    return keras.Sequential(layers, name="discriminator")


def _bce(labels, logits):
    return keras.losses.binary_crossentropy(
        labels, ops.cast(logits, "float32"), from_logits=True
    )


def _flat(x):
    return ops.reshape(ops.cast(x, "float32"), (ops.shape(x)[0], -1))


def _paired_arrays(x, y, sample_weight, batch_size, shuffle):
    x_source, x_target = (np.asarray(a) for a in x)
    y = np.asarray(y)
    if len(y) != len(x_source):
        raise ValueError(
            f"y_source has {len(y)} labels for {len(x_source)} source examples."
        )
    labelled = (x_source, y) + (
        () if sample_weight is None else (np.asarray(sample_weight),)
    )
    source = tf.data.Dataset.from_tensor_slices(labelled)
    target = tf.data.Dataset.from_tensor_slices(x_target)
    if shuffle:
        source = source.shuffle(len(x_source), reshuffle_each_iteration=True)
        target = target.shuffle(len(x_target), reshuffle_each_iteration=True)
    return zip_domains(source.batch(batch_size), target.batch(batch_size))
