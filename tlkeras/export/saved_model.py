"""`saved_model`: a TF Serving-ready SavedModel that takes raw inputs."""

import os
from typing import Optional
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from tlkeras._utils.atomic import atomic_directory
from tlkeras.export.serving import ExportMismatchError
from tlkeras.export.serving import check_parity
from tlkeras.export.serving import input_spec
from tlkeras.export.serving import model_inputs
from tlkeras.export.serving import named_outputs
from tlkeras.export.serving import sample_inputs
from tlkeras.freezing import merge_lora


def saved_model(
    model: keras.Model,
    path,
    *,
    input_dtype: str = "uint8",
    class_names: Optional[Sequence[str]] = None,
    overwrite: bool = False,
    verify: bool = True,
    verbose: int = 1,
) -> str:
    """Export `model` as a SavedModel whose `serving_default` takes raw
    inputs.

    The signature's input is named `images` (a batch of pixels of the
    model's input size, `uint8` by default, or `float32` in [0, 255]) or
    `text` (strings, for text models); the model's preprocessing runs
    inside. Outputs are named by task: `probabilities`, `class_ids` and,
    when class names are known, `classes` for classifiers (logits become
    probabilities); `predictions` for regressors; `features` for feature
    extractors. Built on Keras's `ExportArchive`; the model's variables are
    saved, so the export serves without tlkeras.

    The export is written to a temporary folder beside `path` and moved into
    place when complete (and verified), so an interrupted export leaves
    nothing half-written, and a failed one leaves an existing export as it
    was.

    Args:
        model: a `tlkeras.TransferModel` or any single-input `keras.Model`.
        path: the SavedModel folder to create (e.g. `"export/flowers/1"`
            for TF Serving).
        input_dtype: `"uint8"` or `"float32"`, the image input type (text
            models always take strings). Defaults to `"uint8"`.
        class_names: class names for the `classes` output. Defaults to the
            model's `class_names`.
        overwrite: bool, replace an existing folder. Defaults to `False`
            (an existing `path` raises `FileExistsError`).
        verify: bool, reload the export and check its outputs against the
            Keras model on sample inputs (`ExportMismatchError` otherwise).
            Defaults to `True`.
        verbose: int, 1 prints the steps with a Keras progress bar.
            Defaults to `1`.

    Returns:
        The path of the export.

    Example:

    >>> import tempfile, tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "mobilenet_v2", num_classes=2, input_shape=(32, 32, 3),
    ...     weights=None, base_kwargs={"alpha": 0.35},
    ...     class_names=["ant", "bee"])
    >>> path = tlk.export.saved_model(
    ...     model, tempfile.mkdtemp() + "/1", verbose=0)
    >>> serve = tf.saved_model.load(path).signatures["serving_default"]
    >>> sorted(serve.structured_input_signature[1])
    ['images']
    >>> sorted(serve.structured_outputs)
    ['class_ids', 'classes', 'probabilities']
    """
    if class_names is None:
        class_names = getattr(model, "class_names", None)
    spec = input_spec(model, input_dtype)
    path = os.fspath(path)
    # LoRA adapters are folded into the kernels (no adapter matmuls when
    # serving); `verify` checks the export against the model as given.
    served = merge_lora(model)
    progress = keras.utils.Progbar(3, verbose=verbose, unit_name="step")
    with atomic_directory(path, overwrite=overwrite) as tmp:

        @tf.function(input_signature=[spec])
        def serve(raw):
            outputs = served(model_inputs(raw, spec), training=False)
            return named_outputs(served, outputs, class_names)

        archive = keras.export.ExportArchive()
        archive.track(served)
        archive.add_endpoint("serving_default", serve)
        progress.update(1, [("traced", 1)])
        archive.write_out(os.fspath(tmp), verbose=False)
        progress.update(2, [("written", 1)])
        if verify:
            verify_saved_model(model, tmp, spec, class_names)
        progress.update(3, [("verified", int(verify))])
    return path


def verify_saved_model(model, path, spec, class_names) -> None:
    """Reload the SavedModel at `path` and compare its outputs with the
    Keras model's on sample inputs."""
    raw = sample_inputs(spec)
    serve = tf.saved_model.load(os.fspath(path)).signatures["serving_default"]
    exported = serve(**{spec.name: tf.constant(raw, dtype=spec.dtype)})
    expected = named_outputs(
        model,
        model(model_inputs(tf.constant(raw, spec.dtype), spec), training=False),
        class_names,
    )
    for name, value in expected.items():
        if value.dtype == tf.string:
            if not np.array_equal(exported[name].numpy(), value.numpy()):
                raise ExportMismatchError(
                    f"The export's {name!r} differs from the Keras model's: "
                    f"{exported[name].numpy()} vs {value.numpy()}."
                )
        else:
            check_parity(name, value.numpy(), exported[name].numpy())
