"""Knowledge distillation (Hinton et al. 2015), on Keras's own
`keras.distillation.Distiller`, with what it gets wrong put right."""

from typing import Optional

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tlkeras._utils import keras_internals
from tlkeras._utils.sizes import fits_in_memory
from tlkeras.strategies.outputs import OUTPUTS
from tlkeras.strategies.outputs import as_logits
from tlkeras.strategies.outputs import gives_probabilities
from tlkeras.training import unpin_train_graphs


class Distiller(keras.distillation.Distiller):
    """Train `student` on the labels and on `teacher`'s softened outputs.

    The loss per example is `alpha * hard + (1 - alpha) * soft`: `hard` the
    student's loss on the labels, `soft = T^2 * KL(softmax(t / T) ||
    softmax(s / T))` on the teacher's and student's logits `t`, `s` at
    temperature `T` (Hinton et al.: the `T^2` keeps the soft gradients'
    scale as `T` changes). Where Keras's own `Distiller` differs:

    - its default `LogitsDistillation(loss="kl_divergence")` applies KL to
      temperature-scaled raw logits, with no softmax and no `T^2`; here the
      soft loss is always the formula above;
    - models that output probabilities (a softmax head; a
      `tlkeras.TransferModel` built without `logits=True`) are read as the
      log-probabilities they imply, which are logits up to a constant: the
      same training as their logit twins;
    - `sample_weight` and `class_weight` weigh both losses per example
      (Keras's ignores them), reduced as Keras's losses are (sum over the
      batch size);
    - `fit` computes the teacher's outputs once instead of every step for
      arrays and for datasets without random augmentation that fit in
      memory (`cache_teacher="auto"`, see `fit`); a randomly augmented
      dataset runs the teacher every step, on each batch as augmented.

    The teacher never trains: it is called with `training=False` (weights
    and BatchNormalization statistics unchanged). Keep `distiller.student`,
    an ordinary Keras model, and save that (saving the distiller would
    write the teacher too).

    Args:
        teacher: a trained `keras.Model`.
        student: the `keras.Model` to train, with the teacher's outputs.
        temperature: float > 0, `T`. Defaults to `4.0`.
        alpha: float in [0, 1], the weight of the hard-label loss.
            Defaults to `0.1`.
        teacher_outputs, student_outputs: `"logits"`, `"probabilities"` or
            `"auto"` (a `TransferModel` says; otherwise a softmax last
            layer means probabilities). Defaults to `"auto"`.

    Example:

    >>> import numpy as np
    >>> teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> student = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> d = Distiller(teacher, student, temperature=2.0, alpha=0.5)
    >>> d.compile(optimizer="adam", metrics=["accuracy"])
    >>> x, y = np.random.rand(16, 4).astype("float32"), np.arange(16) % 3
    >>> history = d.fit(x, y, epochs=2, verbose=0)
    >>> sorted(k for k in history.history if k.endswith("loss"))
    ['distillation_loss', 'loss', 'student_loss', 'total_loss']
    """

    def __init__(
        self,
        teacher: keras.Model,
        student: keras.Model,
        *,
        temperature: float = 4.0,
        alpha: float = 0.1,
        teacher_outputs: str = "auto",
        student_outputs: str = "auto",
        name: str = "distiller",
        **kwargs,
    ):
        if not isinstance(temperature, (int, float)) or not temperature > 0:
            raise ValueError(
                "`temperature` must be a float > 0. Received: "
                f"temperature={temperature!r}"
            )
        if not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
            raise ValueError(
                f"`alpha` must be a float in [0, 1]. Received: alpha={alpha!r}"
            )
        for label, value in (
            ("teacher_outputs", teacher_outputs),
            ("student_outputs", student_outputs),
        ):
            if value not in OUTPUTS:
                raise ValueError(
                    f"`{label}` must be one of {OUTPUTS}. Received: "
                    f"{label}={value!r}"
                )
        super().__init__(
            teacher,
            student,
            distillation_losses=keras.distillation.LogitsDistillation(
                temperature=temperature, loss=keras.losses.KLDivergence()
            ),
            student_loss_weight=float(alpha),
            name=name,
            **kwargs,
        )
        self.temperature = float(temperature)
        self.alpha = float(alpha)
        self.teacher_probabilities = gives_probabilities(
            teacher, teacher_outputs
        )
        self.student_probabilities = gives_probabilities(
            student, student_outputs
        )

    def compile(self, optimizer="adam", loss="auto", metrics=None, **kwargs):
        """As `keras.Model.compile`; `loss="auto"` is sparse categorical
        cross-entropy, from logits or not as the student outputs."""
        if loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(
                from_logits=not self.student_probabilities
            )
        self._hard_loss = keras.losses.get(loss)
        super().compile(
            optimizer=optimizer, loss=loss, metrics=metrics, **kwargs
        )

    # === Training ===

    def make_train_function(self, force=False):
        # A new model, a new trace: let it be freed with the model.
        unpin_train_graphs(self.optimizer)
        return super().make_train_function(force=force)

    def fit(self, x=None, y=None, *, cache_teacher="auto", **kwargs):
        """`keras.Model.fit`, computing the teacher's outputs once where
        that trains the same.

        `cache_teacher="auto"` caches them for arrays and for datasets that
        draw no random numbers (no random augmentation; shuffling is fine),
        are finite and fit in a quarter of this machine's memory: one pass
        runs the teacher, then training runs on the examples, labels and
        teacher outputs in memory, in batches of the dataset's batch size,
        reshuffled each epoch if the dataset shuffles (`shuffle=` decides
        otherwise). Other
        datasets run the teacher every step. `True` insists (and refuses a
        random pipeline, whose augmentation the cache would freeze);
        `False` never caches. `validation_data` follows the same rules.
        After `fit`, `teacher_cached` says what was done.
        """
        if cache_teacher not in ("auto", True, False):
            raise ValueError(
                "`cache_teacher` must be 'auto', True or False. Received: "
                f"cache_teacher={cache_teacher!r}"
            )
        self.teacher_cached = False
        if cache_teacher is not False:
            if _is_array(x) and y is not None:
                y = (np.asarray(y), self._teacher_logits(x, kwargs))
                self.teacher_cached = True
            elif isinstance(x, tf.data.Dataset) and self._cacheable(
                x, cache_teacher, "x"
            ):
                kwargs.setdefault("shuffle", keras_internals.shuffles(x))
                x, y, kwargs = self._materialized(x, kwargs)
                self.teacher_cached = True
            validation = kwargs.get("validation_data")
            if isinstance(validation, tuple) and _is_array(validation[0]):
                vx, vy = validation[0], validation[1]
                kwargs["validation_data"] = (
                    vx,
                    (np.asarray(vy), self._teacher_logits(vx, kwargs)),
                    *validation[2:],
                )
            elif isinstance(validation, tf.data.Dataset) and self._cacheable(
                validation, cache_teacher, "validation_data"
            ):
                vx, vy, vw, _ = self._pass(
                    validation, kwargs.get("verbose", "auto")
                )
                kwargs["validation_data"] = (
                    (vx, vy) if vw is None else (vx, vy, vw)
                )
        if isinstance(x, tf.data.Dataset):
            # A dataset shuffles itself (Keras warns on `shuffle=True`).
            kwargs.setdefault("shuffle", False)
        return super().fit(x, y, **kwargs)

    def _cacheable(self, dataset, cache_teacher, argument) -> bool:
        random = keras_internals.draws_random_numbers(dataset)
        if random and cache_teacher is True:
            raise ValueError(
                f"`{argument}` draws random numbers (random augmentation?): "
                "caching the teacher's outputs would freeze one draw for "
                "every epoch. Pass cache_teacher='auto' or False to run the "
                "teacher every step."
            )
        count = int(dataset.cardinality())
        if count < 0:  # infinite or unknown: cannot hold it
            return False
        spec = dataset.element_spec
        inputs = tf.nest.flatten(spec[0] if isinstance(spec, tuple) else spec)
        size = count * sum(
            int(np.prod([d or 1 for d in s.shape])) * s.dtype.size
            for s in inputs
        )
        return not random and (cache_teacher is True or fits_in_memory(size))

    def _pass(self, dataset, verbose="auto"):
        """One pass over a dataset of `(x, y[, sample_weight])` batches:
        the arrays, with the teacher's outputs beside the labels, and the
        size of the first batch (the dataset's batch size)."""
        xs, ys, teachers, weights = [], [], [], []
        progress = keras.utils.Progbar(
            int(dataset.cardinality()),
            verbose=1 if verbose in ("auto", 1) else 0,
            unit_name="teacher batch",
        )
        for element in dataset:
            if not isinstance(element, tuple) or len(element) < 2:
                raise ValueError(
                    "Distillation needs labelled batches: (x, y) or (x, y, "
                    f"sample_weight). Received: {dataset.element_spec}"
                )
            x, y = element[0], element[1]
            outputs = self.teacher(x, training=False)
            teachers.append(
                keras.ops.convert_to_numpy(
                    as_logits(outputs, self.teacher_probabilities)
                )
            )
            xs.append(keras.ops.convert_to_numpy(x))
            ys.append(keras.ops.convert_to_numpy(y))
            if len(element) > 2:
                weights.append(keras.ops.convert_to_numpy(element[2]))
            progress.add(1)
        x = np.concatenate(xs)
        y = (np.concatenate(ys), np.concatenate(teachers))
        weights = np.concatenate(weights) if weights else None
        return x, y, weights, len(xs[0])

    def _materialized(self, dataset, kwargs):
        for name in ("batch_size", "sample_weight"):
            if kwargs.get(name) is not None:
                raise ValueError(
                    f"`{name}` cannot be passed with a dataset (its batches "
                    "say it)."
                )
        x, y, weights, batch = self._pass(
            dataset, kwargs.get("verbose", "auto")
        )
        kwargs = dict(kwargs, batch_size=batch)
        if weights is not None:
            kwargs["sample_weight"] = weights
        return x, y, kwargs

    def _teacher_logits(self, x, fit_kwargs) -> np.ndarray:
        outputs = self.teacher.predict(
            x, batch_size=fit_kwargs.get("batch_size") or 32, verbose=0
        )
        return keras.ops.convert_to_numpy(
            as_logits(outputs, self.teacher_probabilities)
        )

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        if y_pred is None:
            y_pred = self(x, training=training)
        labels, teacher = _split_labels(y)
        if teacher is None:
            teacher = as_logits(
                self.teacher(x, training=False), self.teacher_probabilities
            )
        student = as_logits(y_pred, self.student_probabilities)
        soft = self.soft_loss(teacher, student)
        hard = self._hard_loss(labels, y_pred, sample_weight=sample_weight)
        soft = _reduce(soft, sample_weight)
        total = self.alpha * hard + (1.0 - self.alpha) * soft
        self.student_loss_tracker.update_state(hard)
        self.distillation_loss_tracker.update_state(soft)
        self.total_loss_tracker.update_state(total)
        return total

    def soft_loss(self, teacher_logits, student_logits):
        """Per example: `T^2 * KL(softmax(t / T) || softmax(s / T))`."""
        t = ops.cast(teacher_logits, "float32") / self.temperature
        s = ops.cast(student_logits, "float32") / self.temperature
        p = ops.softmax(t, axis=-1)
        divergence = ops.sum(
            p * (ops.log_softmax(t, axis=-1) - ops.log_softmax(s, axis=-1)),
            axis=-1,
        )
        return self.temperature**2 * divergence

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        labels, _ = _split_labels(y)
        return super().compute_metrics(x, labels, y_pred, sample_weight)


def _split_labels(y):
    if isinstance(y, (tuple, list)) and len(y) == 2:
        return y[0], y[1]
    return y, None


def _reduce(values, sample_weight: Optional[object]):
    """Keras's "sum_over_batch_size": sum(w * loss) / batch size."""
    if sample_weight is None:
        return ops.mean(values)
    weights = ops.cast(ops.reshape(sample_weight, (-1,)), values.dtype)
    return ops.sum(values * weights) / ops.cast(ops.shape(values)[0], "float32")


def _is_array(x) -> bool:
    return isinstance(x, np.ndarray) or (
        hasattr(x, "shape") and hasattr(x, "dtype") and not hasattr(x, "take")
    )
