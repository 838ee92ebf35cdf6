"""`image_dataset`: images from a folder, arrays or tensorflow-datasets."""

import os
import warnings
from pathlib import Path
from typing import Optional
from typing import Sequence
from typing import Union

import numpy as np
import tensorflow as tf

from tlkeras._utils.sizes import fits_in_memory
from tlkeras.data.augmentation import augmentation_layers
from tlkeras.data.service import check_service
from tlkeras.data.splits import check_split_arguments
from tlkeras.data.splits import finish_parts
from tlkeras.data.splits import load_tfds
from tlkeras.data.splits import split_examples

IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


def image_dataset(
    source,
    *,
    image_size: Sequence[int],
    batch_size: int = 32,
    split: Optional[str] = None,
    validation_split: Optional[float] = None,
    subset: Optional[str] = None,
    seed: Optional[int] = None,
    shuffle: bool = True,
    augment=None,
    cache: Union[bool, str] = "auto",
    service: Optional[str] = None,
    processing_mode: str = "distributed_epoch",
):
    """A batched `tf.data.Dataset` of `(images, labels)` for transfer learning.

    Images come out as float32 in [0, 255] (the models built by tlkeras
    carry their own preprocessing), resized to `image_size`; labels are
    integers. `dataset.class_names` lists the classes.

    `source` is one of:

    - a folder with one subfolder per class, as
      `keras.utils.image_dataset_from_directory` reads it (`.jpg`,
      `.jpeg`, `.png`, `.bmp`, `.gif`; read by content, so a PNG named
      `.jpg` is read as a PNG). Files with other names, files whose content
      is no image, files cut short (no end marker) and files that cannot
      be read are skipped with one warning that names and counts them, so
      training does not stop on them mid-epoch. The dataset's length is
      known (Keras shows `n/n` progress from the first epoch); a file that
      fails to decode later anyway ends the pass with an error that counts
      the examples it lacks;
    - `"tfds:<name>[/<config>]"`, a tensorflow-datasets dataset with
      supervised keys (`split` picks the split, e.g. `"train[:80%]"`);
    - a tuple `(x, y)` of arrays.

    Args:
        source: as above.
        image_size: `(height, width)`.
        batch_size: int. Defaults to `32`.
        split: string, the tfds split. Defaults to `"train"` for tfds.
        validation_split: float in (0, 1), the share held out for
            validation (folders and arrays). Defaults to `None`.
        subset: `"training"`, `"validation"` or `"both"` (a pair), with
            `validation_split`. Defaults to `None`.
        seed: int, for shuffling and the split. Defaults to `None`.
        shuffle: bool, shuffle the examples (each epoch). Defaults to `True`.
        augment: `None`, a preset name (`"light"`, `"standard"`) or a
            Keras layer; applied on the fly to training data only.
            Defaults to `None`.
        cache: `"auto"`, `True` or `False`: keep the decoded, resized
            images in memory after the first pass (before augmentation,
            which stays random every epoch). `"auto"` caches folder and
            array data whose decoded images take under a quarter of the
            machine's memory (float32, `image_size`): decoding is then paid
            once, which on 2 cores doubles the throughput of a frozen-base
            model on photos (`benchmarks/bench_input_pipeline.py`).
            Defaults to `"auto"`.
        service: string or `None`, the address of a `tf.data` service
            dispatcher (`"grpc://host:port"`; start one and its workers with
            `tlkeras data-service dispatcher|worker`): reading, decoding,
            resizing and batching then run on the service's workers, and
            nothing is cached here. Defaults to `None`.
        processing_mode: with `service`, `"distributed_epoch"` (the workers
            share each pass: every example once per epoch, in no fixed
            order, the last batch of each worker maybe short) or
            `"parallel_epochs"` (each worker makes its own whole pass).
            Defaults to `"distributed_epoch"`.

    Example:

    >>> import numpy as np
    >>> x = np.zeros((10, 8, 8, 3), "uint8"); y = np.arange(10) % 2
    >>> ds = image_dataset((x, y), image_size=(16, 16), batch_size=4)
    >>> images, labels = next(iter(ds))
    >>> tuple(images.shape), ds.class_names
    ((4, 16, 16, 3), ['0', '1'])
    """
    image_size = _check_size(image_size)
    check_service(service, processing_mode)
    if service is not None:
        if cache is True:
            raise ValueError(
                "`cache=True` keeps decoded images in this process, but with "
                "`service` the service's workers decode them: pass "
                "cache=False (or 'auto')."
            )
        cache = False
    count = None
    if check_split_arguments(source, split, validation_split, subset):
        examples, class_names = load_tfds(source[5:], split or "train")
        parts = {"all": examples}
    else:
        if isinstance(source, tuple):
            inputs, labels, class_names = _from_arrays(source)
            kind = "arrays"
        else:
            inputs, labels, class_names = _from_folder(source)
            kind = "files"
        count = len(labels)
        parts = split_examples(inputs, labels, validation_split, seed)
        parts = {
            name: _examples(kind, x, y, image_size, service is None)
            for name, x, y in parts
        }

    if cache == "auto":
        # Folders and arrays: their size is known; a tfds dataset's is not
        # without reading its metadata, and can be anything.
        cache = count is not None and fits_in_memory(
            count * image_size[0] * image_size[1] * 3 * 4
        )
    elif not isinstance(cache, bool):
        raise ValueError(
            f"`cache` must be 'auto', True or False. Received: cache={cache!r}"
        )
    return finish_parts(
        parts,
        subset,
        class_names,
        batch_size=batch_size,
        shuffle=shuffle,
        cache=cache,
        seed=seed,
        shuffle_buffer=1024,
        prepare=lambda examples: examples.map(
            lambda image, label: (_resize(image, image_size), label),
            num_parallel_calls=tf.data.AUTOTUNE,
        ),
        augment=augmentation_layers(augment),
        service=service,
        processing_mode=processing_mode,
    )


def _check_size(image_size):
    size = tuple(image_size) if isinstance(image_size, (list, tuple)) else ()
    if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
        raise ValueError(
            "`image_size` must be (height, width) in positive ints. "
            f"Received: image_size={image_size!r}"
        )
    return size


def _from_folder(folder):
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(
            f"No folder at {str(folder)!r}; `source` is a folder of class "
            "subfolders, 'tfds:<name>' or (x, y) arrays."
        )
    class_names = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not class_names:
        raise ValueError(
            f"{str(root)!r} has no class subfolders; put each class's images "
            "in a subfolder named after the class."
        )
    paths, labels, skipped = [], [], []
    for label, name in enumerate(class_names):
        for path in sorted((root / name).rglob("*")):
            if not path.is_file():
                continue
            problem = _problem(path)
            if problem is None:
                paths.append(os.fspath(path))
                labels.append(label)
            else:
                skipped.append(f"{path.relative_to(root)} ({problem})")
    if skipped:
        warnings.warn(
            f"Skipped {len(skipped)} file(s) in {str(root)!r} that are not "
            f"readable, whole images ({', '.join(IMAGE_SUFFIXES)}): "
            + "; ".join(skipped),
            stacklevel=3,
        )
    if not paths:
        raise ValueError(f"No images found in the class folders of {root}.")
    return np.array(paths), np.array(labels, "int64"), class_names


# How far from its end a whole file of each format has its end marker
# (JPEG writers may pad or append a little after the EOI marker).
_TAIL = 64 * 1024


def _problem(path) -> Optional[str]:
    """Why `path` is not a readable, whole image, or `None`: by its name
    (suffix), its first bytes (the format, whatever the suffix says: a PNG
    named .jpg is read as the PNG it is) and its last ones (a file cut short
    has no end marker)."""
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return "not an image file name"
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            f.seek(max(size - _TAIL, 0))
            tail = f.read()
    except OSError as error:
        return f"unreadable: {type(error).__name__}"
    if head.startswith(b"\xff\xd8\xff"):
        return None if b"\xff\xd9" in tail else "JPEG cut short"
    if head.startswith(b"\x89PNG"):
        return None if b"IEND" in tail[-64:] else "PNG cut short"
    if head.startswith(b"GIF8"):
        return None if tail.rstrip(b"\x00").endswith(b";") else "GIF cut short"
    if head.startswith(b"BM"):
        declared = int.from_bytes(head[2:6], "little")
        return None if size >= declared else "BMP cut short"
    return "content is not an image"


def _from_arrays(source):
    if len(source) != 2:
        raise ValueError(
            f"Array sources are (x, y). Received a tuple of {len(source)}."
        )
    x, y = np.asarray(source[0]), np.asarray(source[1]).astype("int64")
    if x.ndim != 4 or len(x) != len(y):
        raise ValueError(
            "Array sources need x of shape (n, height, width, channels) and "
            f"n labels. Received: x.shape={x.shape}, y.shape={y.shape}"
        )
    class_names = [str(c) for c in range(int(y.max()) + 1)]
    return x, y, class_names


def _examples(kind, x, y, image_size, known_length=True):
    examples = tf.data.Dataset.from_tensor_slices((x, y))
    if kind == "files":
        examples = examples.map(
            lambda path, label: (_decode(path, image_size), label),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        # Files are checked when the dataset is made (`_problem`); one that
        # still fails to decode (changed or deleted since, or broken inside
        # in a way the checks do not see) is left out of the pass, and the
        # known length makes the pass end with an error that counts them:
        # "expected to contain N elements but contained only M".
        examples = examples.ignore_errors(log_warning=True)
        if not known_length:
            # A tf.data service worker reads a share of the files.
            return examples
        examples = examples.apply(
            tf.data.experimental.assert_cardinality(len(x))
        )
    return examples


def _decode(path, image_size):
    data = tf.io.read_file(path)

    def jpeg():
        # Decode at 1/2, 1/4 or 1/8 scale (JPEG's DCT scaling) when the
        # image stays at least `image_size`: several times faster than a
        # full decode for photos much larger than the model's input.
        shape = tf.image.extract_jpeg_shape(data)
        scale = tf.minimum(shape[0] // image_size[0], shape[1] // image_size[1])
        index = tf.where(
            scale >= 8, 3, tf.where(scale >= 4, 2, tf.where(scale >= 2, 1, 0))
        )
        return tf.switch_case(
            tf.cast(index, "int32"),
            [
                lambda r=r: tf.io.decode_jpeg(data, channels=3, ratio=r)
                for r in (1, 2, 4, 8)
            ],
        )

    def other():
        return tf.io.decode_image(data, channels=3, expand_animations=False)

    image = tf.cond(tf.io.is_jpeg(data), jpeg, other)
    image.set_shape([None, None, 3])
    return image


def _resize(image, size):
    image = tf.cast(image, "float32")
    if image.shape[-1] == 1:
        image = tf.image.grayscale_to_rgb(image)
    return tf.image.resize(image, size)
