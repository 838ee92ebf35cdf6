"""`report`: how good a model is, per class, computed with scikit-learn."""

import dataclasses
import json
import os
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence
from typing import Union

import keras
import numpy as np
import tensorflow as tf
from sklearn import metrics as skm

from tlkeras._utils.atomic import write_text
from tlkeras.evaluation.tta import check_tta
from tlkeras.evaluation.tta import predict_batch
from tlkeras.tasks import task_of


@dataclasses.dataclass
class Report:
    """An evaluation report; `print(report)` shows it as tables.

    Attributes:
        task: `"multiclass"`, `"binary"`, `"multilabel"` or `"regression"`.
        metrics: dict of overall figures (`accuracy`, `top_5_accuracy`,
            `subset_accuracy`, `mae`, `rmse`, `r2`...).
        per_class: one dict per class (or label): `name`, `precision`,
            `recall`, `f1`, `support`. Empty for regression.
        averages: `{"macro": {...}, "weighted": {...}}` (and `"micro"` for
            multi-label) of precision, recall and F1.
        confusion: the confusion matrix (rows: true class, columns:
            predicted), or `None` where it does not apply.
        class_names: the class (or label) names.
        num_examples: how many examples were evaluated.
        tta: the test-time augmentation the predictions averaged over
            (`"flip"`), or `None`.
    """

    task: str
    metrics: Dict[str, float]
    per_class: List[dict]
    averages: Dict[str, dict]
    confusion: Optional[List[List[int]]]
    class_names: List[str]
    num_examples: int
    tta: Optional[str] = None

    def to_dict(self) -> dict:
        """The report as plain Python types (for JSON)."""
        return dataclasses.asdict(self)

    def to_json(self, path: Union[str, os.PathLike]) -> str:
        """Write the report as JSON, atomically; return the path."""
        write_text(path, json.dumps(self.to_dict(), indent=2))
        return str(path)

    def __str__(self) -> str:
        lines = [f"{self.task} report on {self.num_examples} examples"]
        if self.tta is not None:
            lines[0] += f", test-time augmentation {self.tta!r}"
        width = max([len(k) for k in self.metrics] + [8])
        for key, value in self.metrics.items():
            lines.append(f"  {key:{width}}  {value:.4f}")
        if self.per_class:
            names = [row["name"] for row in self.per_class]
            w = max([len(n) for n in names] + [len("weighted avg"), 5])
            lines.append("")
            lines.append(
                f"  {'class':{w}}  {'precision':>9}  {'recall':>9}  "
                f"{'f1':>9}  {'support':>7}"
            )
            rows = [(r["name"], r) for r in self.per_class]
            rows += [(f"{k} avg", v) for k, v in self.averages.items()]
            for i, (name, row) in enumerate(rows):
                if i == len(self.per_class):
                    lines.append("  " + "-" * (w + 43))
                lines.append(
                    f"  {name:{w}}  {row['precision']:9.4f}  "
                    f"{row['recall']:9.4f}  {row['f1']:9.4f}  "
                    f"{row['support']:>7}"
                )
        if self.confusion is not None:
            lines += ["", "  confusion matrix (rows: true, columns: predicted)"]
            cells = max(
                [len(str(v)) for row in self.confusion for v in row]
                + [len(n) for n in self.class_names]
            )
            w = max(len(n) for n in self.class_names)
            lines.append(
                f"  {'':{w}}  "
                + "  ".join(f"{n:>{cells}}" for n in self.class_names)
            )
            for name, row in zip(self.class_names, self.confusion):
                lines.append(
                    f"  {name:{w}}  " + "  ".join(f"{v:>{cells}}" for v in row)
                )
        return "\n".join(lines)


def report(
    model: keras.Model,
    data,
    y=None,
    *,
    class_names: Optional[Sequence[str]] = None,
    top_k: Sequence[int] = (1, 5),
    batch_size: int = 32,
    task: Optional[str] = None,
    tta: Optional[str] = None,
) -> Report:
    """Evaluate `model` on `data` and report per class.

    One pass over `data` collects predictions and labels together (a
    dataset that reshuffles stays aligned); the numbers come from
    scikit-learn (`accuracy_score`, `top_k_accuracy_score`,
    `precision_recall_fscore_support`, `confusion_matrix`,
    `mean_absolute_error`, `mean_squared_error`, `r2_score`).

    - multiclass and binary: accuracy, top-k accuracy for each `k` in
      `top_k` below the number of classes, per-class precision, recall,
      F1 and support, macro and weighted averages, the confusion matrix;
    - multi-label: per-label P/R/F1, micro/macro/weighted averages, subset
      accuracy (every label right), label-wise accuracy (threshold 0.5);
    - regression: MAE, RMSE and R² (averaged over outputs).

    Args:
        model: a `tlkeras.TransferModel` (its task and logits decide how
            outputs are read) or another Keras model (then pass `task`).
        data: a `tf.data.Dataset` of `(inputs, labels)` batches, a tuple
            `(x, y)` of arrays, or inputs (then pass `y`).
        y: labels for array inputs. Defaults to `None`.
        class_names: names for the classes; defaults to the model's
            `class_names`, else the data's, else `"0"`, `"1"`...
        top_k: the `k`s of top-k accuracy (multiclass). Defaults to
            `(1, 5)`.
        batch_size: int, for array inputs. Defaults to `32`.
        task: the task of a model not built by tlkeras. Defaults to the
            model's.
        tta: `None` or `"flip"`, test-time augmentation as
            `tlkeras.predict` does it. Defaults to `None`.

    Returns:
        A `Report`.

    Example:

    >>> import numpy as np, tlkeras as tlk
    >>> base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)])
    >>> model = tlk.build_classifier(base, 3, class_names=["a", "b", "c"])
    >>> x = np.random.rand(12, 4).astype("float32"); y = np.arange(12) % 3
    >>> r = tlk.evaluation.report(model, x, y)
    >>> [row["name"] for row in r.per_class], r.num_examples
    (['a', 'b', 'c'], 12)
    """
    kind = _task_name(model, task)
    check_tta(tta)
    logits = bool(getattr(model, "logits", False))
    outputs, labels = _predict(model, data, y, batch_size, tta)
    names = _names(model, data, class_names)
    if kind == "regression":
        result = _regression(outputs, labels)
    elif kind == "multilabel":
        result = _multilabel(outputs, labels, logits, names)
    else:
        if kind == "binary":
            p = _sigmoid(outputs) if logits else outputs
            p = p.reshape(len(p), -1)[:, 0]
            scores = np.stack([1 - p, p], axis=1)
        else:
            scores = _softmax(outputs) if logits else outputs
        labels = labels.reshape(-1)
        result = _classification(kind, scores, labels, names, top_k)
    return dataclasses.replace(result, tta=tta)


def _task_name(model, task):
    if task is not None:
        return task
    found = task_of(model)
    if found is None:
        raise ValueError(
            f"Model {model.name!r} was not built by tlkeras: pass `task` "
            "('multiclass', 'binary', 'multilabel' or 'regression')."
        )
    if found.name == "features":
        raise ValueError(
            "A feature extractor has no predictions to report on: build a "
            "classifier or regressor."
        )
    return found.name


def _predict(model, data, y, batch_size, tta):
    if isinstance(data, tuple) and len(data) == 2 and y is None:
        data, y = data  # `(x, y)`, as `fine_tune` and `compare` take data
    if not isinstance(data, tf.data.Dataset):
        if y is None:
            raise ValueError(
                "Array inputs need labels: pass `y`, or `(x, y)` as `data`."
            )
        data = tf.data.Dataset.from_tensor_slices((data, y)).batch(batch_size)
    elif y is not None:
        raise ValueError(
            "Pass labels inside the dataset, not as `y`, when `data` is a "
            "tf.data.Dataset."
        )
    outputs, labels = [], []
    for batch in data:
        inputs, target = batch[0], batch[1]
        outputs.append(predict_batch(model, inputs, tta))
        labels.append(np.asarray(target))
    if not outputs:
        raise ValueError("No batches in `data` to evaluate on.")
    return (
        np.concatenate(outputs).astype("float64"),
        np.concatenate(labels),
    )


def _names(model, data, class_names):
    for names in (
        class_names,
        getattr(model, "class_names", None),
        getattr(data, "class_names", None),
    ):
        if names:
            return [str(n) for n in names]
    return None


def _classification(kind, scores, labels, names, top_k):
    num_classes = scores.shape[1]
    names = names or [str(i) for i in range(num_classes)]
    if len(names) != num_classes:
        raise ValueError(
            f"{len(names)} class names for {num_classes} classes: {names}"
        )
    ids = list(range(num_classes))
    labels = labels.astype("int64")
    predicted = scores.argmax(axis=1)
    metrics = {"accuracy": float(skm.accuracy_score(labels, predicted))}
    for k in top_k:
        if 1 < k < num_classes:
            metrics[f"top_{k}_accuracy"] = float(
                skm.top_k_accuracy_score(labels, scores, k=k, labels=ids)
            )
    p, r, f, s = skm.precision_recall_fscore_support(
        labels, predicted, labels=ids, zero_division=0
    )
    per_class = [
        _row(names[i], p[i], r[i], f[i], s[i]) for i in range(num_classes)
    ]
    averages = {}
    for average in ("macro", "weighted"):
        ap, ar, af, _ = skm.precision_recall_fscore_support(
            labels, predicted, labels=ids, average=average, zero_division=0
        )
        averages[average] = _row(average, ap, ar, af, int(s.sum()))
    metrics["macro_f1"] = averages["macro"]["f1"]
    confusion = skm.confusion_matrix(labels, predicted, labels=ids)
    return Report(
        task=kind,
        metrics=metrics,
        per_class=per_class,
        averages=averages,
        confusion=confusion.tolist(),
        class_names=names,
        num_examples=int(len(labels)),
    )


def _multilabel(outputs, labels, logits, names):
    probabilities = _sigmoid(outputs) if logits else outputs
    predicted = (probabilities > 0.5).astype("int64")
    labels = labels.astype("int64").reshape(predicted.shape)
    count = predicted.shape[1]
    names = names or [str(i) for i in range(count)]
    p, r, f, s = skm.precision_recall_fscore_support(
        labels, predicted, zero_division=0
    )
    averages = {}
    for average in ("micro", "macro", "weighted"):
        ap, ar, af, _ = skm.precision_recall_fscore_support(
            labels, predicted, average=average, zero_division=0
        )
        averages[average] = _row(average, ap, ar, af, int(s.sum()))
    return Report(
        task="multilabel",
        metrics={
            "subset_accuracy": float(skm.accuracy_score(labels, predicted)),
            "label_accuracy": float(np.mean(labels == predicted)),
            "macro_f1": averages["macro"]["f1"],
        },
        per_class=[
            _row(names[i], p[i], r[i], f[i], s[i]) for i in range(count)
        ],
        averages=averages,
        confusion=None,
        class_names=names,
        num_examples=int(len(labels)),
    )


def _regression(outputs, labels):
    labels = labels.astype("float64").reshape(outputs.shape)
    return Report(
        task="regression",
        metrics={
            "mae": float(skm.mean_absolute_error(labels, outputs)),
            "rmse": float(np.sqrt(skm.mean_squared_error(labels, outputs))),
            "r2": float(skm.r2_score(labels, outputs)),
        },
        per_class=[],
        averages={},
        confusion=None,
        class_names=[],
        num_examples=int(len(labels)),
    )


def _row(name, precision, recall, f1, support) -> dict:
    return {
        "name": name,
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "support": int(support),
    }


def _softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))
