"""`text_dataset`: texts and labels from CSV/TSV files, arrays or
tensorflow-datasets, for models on TF-Hub text modules."""

import csv
import os
import warnings
from typing import List
from typing import Optional
from typing import Union

import numpy as np
import tensorflow as tf

from tlkeras.data.service import check_service
from tlkeras.data.splits import check_split_arguments
from tlkeras.data.splits import finish_parts
from tlkeras.data.splits import load_tfds
from tlkeras.data.splits import split_examples

Column = Union[str, int]


def text_dataset(
    source,
    *,
    batch_size: int = 32,
    split: Optional[str] = None,
    validation_split: Optional[float] = None,
    subset: Optional[str] = None,
    seed: Optional[int] = None,
    shuffle: bool = True,
    text_column: Column = "text",
    label_column: Column = "label",
    delimiter: Optional[str] = None,
    header: Optional[bool] = None,
    cache: bool = False,
    service: Optional[str] = None,
    processing_mode: str = "distributed_epoch",
):
    """A batched `tf.data.Dataset` of `(texts, labels)`.

    Texts come out as `tf.string` (one per example, the input of a model
    built on a `"hub:<text module>"` base), labels as integers;
    `dataset.class_names` lists the classes (string labels are numbered in
    sorted order).

    `source` is one of:

    - a CSV or TSV file. Columns are picked by header name (`text_column`,
      `label_column`) or, for a file without a header row, by position
      (ints). The delimiter is a tab for `.tsv` files and files whose first
      line holds a tab, else a comma. Tab-separated files are read without
      quote processing (a `"` is text, as in most TSV corpora: CSV quoting
      would silently merge lines), comma-separated ones with CSV quoting.
      Blank lines are skipped with a warning that counts them;
    - `"tfds:<name>[/<config>]"`, a tensorflow-datasets text dataset with
      supervised keys (e.g. `"tfds:imdb_reviews"`);
    - a tuple `(texts, labels)` of arrays or lists.

    Args:
        source: as above.
        batch_size: int. Defaults to `32`.
        split: string, the tfds split. Defaults to `"train"` for tfds.
        validation_split: float in (0, 1), the share held out for
            validation (files and arrays). Defaults to `None`.
        subset: `"training"`, `"validation"` or `"both"` (a pair), with
            `validation_split`. Defaults to `None`.
        seed: int, for shuffling and the split. Defaults to `None`.
        shuffle: bool, shuffle the examples (each epoch). Defaults to `True`.
        text_column: column name or index of the texts. Defaults to
            `"text"`.
        label_column: column name or index of the labels. Defaults to
            `"label"`.
        delimiter: string or `None` (guess, as above). Defaults to `None`.
        header: bool, whether the file's first row is a header. Defaults
            to `None`: yes when columns are picked by name; with column
            numbers, a first row whose label appears on no other row is
            refused as a probable header (pass `header=True` to skip it,
            `False` to keep it as an example).
        cache: bool, cache the examples in memory (not with `service`).
            Defaults to `False`.
        service, processing_mode: the `tf.data` service to read through,
            as in `tlkeras.data.image_dataset`. Default to `None` and
            `"distributed_epoch"`.

    Example:

    >>> ds = text_dataset((["spam now", "hi mum", "win cash"],
    ...                    ["spam", "ham", "spam"]), batch_size=2,
    ...                   shuffle=False)
    >>> texts, labels = next(iter(ds))
    >>> texts.numpy().tolist(), labels.numpy().tolist(), ds.class_names
    ([b'spam now', b'hi mum'], [1, 0], ['ham', 'spam'])
    """
    if check_split_arguments(source, split, validation_split, subset):
        examples, class_names = load_tfds(source[5:], split or "train")
        parts = {"all": examples}
    else:
        if isinstance(source, tuple):
            texts, raw_labels = _from_arrays(source)
        elif isinstance(source, (str, os.PathLike)):
            texts, raw_labels = _from_file(
                source, text_column, label_column, delimiter, header
            )
        else:
            raise TypeError(
                "`source` must be a CSV/TSV path, 'tfds:<name>' or a "
                f"(texts, labels) tuple. Received: source={source!r} (of "
                f"type {type(source).__name__})"
            )
        labels, class_names = _encode_labels(raw_labels)
        parts = {
            name: tf.data.Dataset.from_tensor_slices((x, y))
            for name, x, y in split_examples(
                texts, labels, validation_split, seed
            )
        }

    check_service(service, processing_mode)
    return finish_parts(
        parts,
        subset,
        class_names,
        batch_size=batch_size,
        shuffle=shuffle,
        cache=cache and service is None,
        seed=seed,
        shuffle_buffer=10_000,
        service=service,
        processing_mode=processing_mode,
    )


def _from_arrays(source):
    if len(source) != 2:
        raise ValueError(
            "Array sources are (texts, labels). Received a tuple of "
            f"{len(source)}."
        )
    texts = np.asarray([str(t) for t in source[0]], dtype=object)
    labels = np.asarray(source[1])
    if labels.ndim != 1 or len(texts) != len(labels):
        raise ValueError(
            "Array sources need n texts and n labels. Received "
            f"{len(texts)} texts and labels of shape {labels.shape}."
        )
    return texts, labels


def _from_file(path, text_column, label_column, delimiter, header=None):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(
            f"No file at {path!r}; `source` is a CSV/TSV file, "
            "'tfds:<name>' or (texts, labels)."
        )
    with open(path, newline="", encoding="utf-8") as f:
        first = f.readline()
        if delimiter is None:
            tab = path.lower().endswith(".tsv") or "\t" in first
            delimiter = "\t" if tab else ","
        f.seek(0)
        quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
        rows = list(csv.reader(f, delimiter=delimiter, quoting=quoting))
    blank = [i + 1 for i, row in enumerate(rows) if not row]
    if blank:
        shown = ", ".join(str(n) for n in blank[:5])
        warnings.warn(
            f"Skipped {len(blank)} blank line(s) in {path!r} (line "
            f"{shown}{', ...' if len(blank) > 5 else ''}).",
            UserWarning,
            stacklevel=3,
        )
    rows = [row for row in rows if row]
    if not rows:
        raise ValueError(f"{path!r} holds no rows.")
    by_name = isinstance(text_column, str) or isinstance(label_column, str)
    if header is None:
        header = by_name or _looks_like_header(rows, label_column, path)
    elif by_name and not header:
        raise ValueError(
            "Columns picked by name need a header row: pass column numbers "
            f"or header=True. Received: header=False, text_column="
            f"{text_column!r}, label_column={label_column!r}"
        )
    names: List[str] = rows.pop(0) if header else []
    columns = [
        _column_index(c, names, path, which)
        for c, which in ((text_column, "text"), (label_column, "label"))
    ]
    width = max(columns) + 1
    short = [i for i, row in enumerate(rows) if len(row) < width]
    if short:
        line = short[0] + (2 if header else 1)
        raise ValueError(
            f"{path!r} line {line} has fewer than {width} columns "
            f"(delimiter {delimiter!r}): {rows[short[0]]!r}"
        )
    texts = np.asarray([row[columns[0]] for row in rows], dtype=object)
    labels = np.asarray([row[columns[1]] for row in rows])
    return texts, labels


def _looks_like_header(rows, label_column, path) -> bool:
    """Refuse (rather than guess) a first row that looks like a header when
    columns are given by number: its label appears on no other row."""
    if len(rows) < 3 or label_column >= len(rows[0]):
        return False
    first = rows[0][label_column]
    if any(
        len(row) > label_column and row[label_column] == first
        for row in rows[1:]
    ):
        return False
    raise ValueError(
        f"The first row of {path!r} looks like a header: its label "
        f"{first!r} appears on no other row. Pass header=True to skip it, "
        "or header=False to keep it as an example."
    )


def _column_index(column, header, path, which) -> int:
    if isinstance(column, int) and not isinstance(column, bool):
        return column
    if column in header:
        return header.index(column)
    raise ValueError(
        f"{path!r} has no {which} column {column!r}; its first row is "
        f"{header!r}. For a file without a header row pass column numbers, "
        "e.g. text_column=1, label_column=0."
    )


def _encode_labels(labels):
    """Integer labels and class names; strings are numbered in sorted
    order, integers (also as strings, "0", "1") kept as they are."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        raise ValueError("The source holds no examples.")
    as_text = labels.astype(str)
    if all(s.lstrip("-").isdigit() for s in as_text):
        numbers = as_text.astype("int64")
        if numbers.min() < 0:
            raise ValueError(
                f"Integer labels must be >= 0. Received: {numbers.min()}"
            )
        return numbers, [str(c) for c in range(int(numbers.max()) + 1)]
    class_names = sorted(set(as_text.tolist()))
    index = {name: i for i, name in enumerate(class_names)}
    return np.asarray([index[s] for s in as_text], "int64"), class_names
