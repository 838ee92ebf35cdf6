"""`tflite`: a LiteRT (TFLite) file that takes raw inputs."""

import os
import warnings
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from tlkeras._utils.atomic import atomic_path
from tlkeras.export.serving import check_parity
from tlkeras.export.serving import input_spec
from tlkeras.export.serving import model_inputs
from tlkeras.export.serving import named_outputs
from tlkeras.export.serving import sample_inputs
from tlkeras.freezing import merge_lora

QUANTIZE = (None, "dynamic", "float16")
# How far a quantized model may drift from the float one (probabilities).
_TOLERANCE = {None: 1e-4, "float16": 2e-2, "dynamic": 1e-1}


def tflite(
    model,
    path,
    *,
    input_dtype: str = "uint8",
    quantize: Optional[str] = None,
    overwrite: bool = False,
    verify: bool = True,
    verbose: int = 1,
) -> str:
    """Export `model` as a `.tflite` file that takes raw inputs.

    Like `tlkeras.export.saved_model`, the input is `uint8` (or `float32`)
    pixels of the model's input size, the preprocessing runs inside and the
    outputs are named by task (`probabilities`, `class_ids`; no string
    `classes`, which LiteRT's builtin ops cannot return). Built on Keras's
    `model.export(format="litert")`, run on a wrapper model that adds the
    raw input and the named outputs. The file is written atomically.

    `verify=True` runs the file with LiteRT (`ai-edge-litert`, installed
    by `tlkeras[export]`) or, where that is missing, `tf.lite` (deprecated
    there), and compares its outputs with the Keras model's on sample
    inputs (tolerance 1e-4; 2e-2 with `"float16"`, 1e-1 with `"dynamic"`).

    Args:
        model: a `tlkeras.TransferModel` or any single-input `keras.Model`
            taking numbers (text models cannot be exported to LiteRT's
            builtin ops), or the folder of a SavedModel written by
            `tlkeras.export.saved_model` (its numeric outputs are kept;
            `input_dtype` is the SavedModel's).
        path: the `.tflite` file to write.
        input_dtype: `"uint8"` or `"float32"`. Defaults to `"uint8"`.
        quantize: `None`, `"dynamic"` (int8 weights) or `"float16"`
            (float16 weights). Defaults to `None`.
        overwrite: bool, replace an existing file. Defaults to `False`.
        verify: bool, check the outputs (`ExportMismatchError` otherwise).
            Defaults to `True`.
        verbose: int, 1 prints the steps. Defaults to `1`.

    Returns:
        The path of the file.

    Example:

    >>> import tempfile, tlkeras as tlk
    >>> model = tlk.build_classifier(
    ...     "mobilenet_v2", num_classes=2, input_shape=(32, 32, 3),
    ...     weights=None, base_kwargs={"alpha": 0.35})
    >>> path = tlk.export.tflite(
    ...     model, tempfile.mkdtemp() + "/model.tflite", verbose=0)
    >>> interpreter = tlk.export.tflite_interpreter(path)
    >>> [d["name"] for d in interpreter.get_input_details()]
    ['serving_default_images:0']
    """
    if quantize not in QUANTIZE:
        raise ValueError(
            f"`quantize` must be one of {QUANTIZE}. Received: "
            f"quantize={quantize!r}"
        )
    path = os.fspath(path)
    if not path.endswith(".tflite"):
        raise ValueError(
            f"The LiteRT file name must end with '.tflite'. Received: {path!r}"
        )
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(
            f"{path!r} already exists; pass overwrite=True to replace it."
        )
    if isinstance(model, (str, os.PathLike)):
        return _from_saved_model(
            os.fspath(model), path, quantize, verify, verbose
        )
    spec = input_spec(model, input_dtype)
    if spec.dtype == tf.string:
        raise ValueError(
            "Text models (string inputs) cannot be exported to LiteRT's "
            "builtin ops; export a SavedModel with "
            "tlkeras.export.saved_model instead."
        )
    # LoRA adapters are folded into the kernels; outputs are checked
    # against the model as given.
    wrapper = _RawInputModel(
        merge_lora(model), spec, name=f"{model.name}_raw_input"
    )
    converter_options = _converter_options(quantize)
    progress = keras.utils.Progbar(2, verbose=verbose, unit_name="step")
    with atomic_path(path) as tmp:
        wrapper.export(
            os.fspath(tmp) + ".tflite",
            format="litert",
            verbose=False,
            input_signature=[spec],
            **converter_options,
        )
        os.replace(os.fspath(tmp) + ".tflite", tmp)
        progress.update(1, [("converted", 1)])
        if verify:
            raw = sample_inputs(spec)
            expected = _RawInputModel(model, spec)(raw)
            _check(expected, run_tflite(tmp, raw), quantize)
        progress.update(2, [("verified", int(verify))])
    return path


def _converter_options(quantize) -> dict:
    options = {}
    if quantize is not None:
        options["optimizations"] = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        options["target_spec"] = {"supported_types": [tf.float16]}
    return options


def _check(expected, actual, quantize):
    for name, value in expected.items():
        check_parity(
            name,
            keras.ops.convert_to_numpy(value),
            actual[name],
            rtol=0,
            atol=_TOLERANCE[quantize],
        )


def _from_saved_model(saved, path, quantize, verify, verbose):
    """Convert a SavedModel exported by `tlkeras.export.saved_model` (its
    numeric outputs; LiteRT's builtin ops return no strings)."""
    if not os.path.isfile(os.path.join(saved, "saved_model.pb")):
        raise ValueError(
            f"No SavedModel at {saved!r}; pass a keras.Model or the folder "
            "written by tlkeras.export.saved_model."
        )
    loaded = tf.saved_model.load(saved)
    serve = loaded.signatures["serving_default"]
    (spec,) = serve.structured_input_signature[1].values()
    if spec.dtype == tf.string:
        raise ValueError(
            f"The SavedModel at {saved!r} takes strings; LiteRT's builtin "
            "ops cannot run text models."
        )

    @tf.function(input_signature=[spec])
    def numeric(images):
        outputs = serve(**{spec.name: images})
        return {k: v for k, v in outputs.items() if v.dtype != tf.string}

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [numeric.get_concrete_function()], loaded
    )
    for attr, value in _converter_options(quantize).items():
        if attr == "target_spec":
            converter.target_spec.supported_types = value["supported_types"]
        else:
            setattr(converter, attr, value)
    progress = keras.utils.Progbar(2, verbose=verbose, unit_name="step")
    with atomic_path(path) as tmp:
        tmp.write_bytes(converter.convert())
        progress.update(1, [("converted", 1)])
        if verify:
            raw = sample_inputs(spec)
            _check(numeric(tf.constant(raw)), run_tflite(tmp, raw), quantize)
        progress.update(2, [("verified", int(verify))])
    return path


class _RawInputModel(keras.Model):
    """`model` behind a raw input, returning the named outputs (TF ops, so
    LiteRT's builtin ops cover them: Keras's own `argmax` would need a
    Flex op for its negative-zero handling)."""

    def __init__(self, model, spec, **kwargs):
        super().__init__(**kwargs)
        self.model = model
        self.spec = spec
        self.built = True  # wraps a built model; nothing of its own

    def call(self, raw):
        outputs = self.model(model_inputs(raw, self.spec), training=False)
        return named_outputs(self.model, outputs, None)


_SAID_WHICH_EXTRA = []


def tflite_interpreter(path):
    """A LiteRT interpreter for `path`, allocated: `ai_edge_litert`'s where
    installed, else `tf.lite`'s, after saying once which extra to install
    (instead of TensorFlow's deprecation warning, every time)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        Interpreter = None
    with warnings.catch_warnings():
        if Interpreter is None:
            if not _SAID_WHICH_EXTRA:
                _SAID_WHICH_EXTRA.append(True)
                warnings.warn(
                    "Checking the .tflite file with tf.lite.Interpreter, "
                    "which TensorFlow deprecates: `pip install "
                    "tlkeras[export]` (ai-edge-litert) for LiteRT's.",
                    UserWarning,
                    stacklevel=2,
                )
            warnings.filterwarnings(
                "ignore", ".*tf.lite.Interpreter is deprecated.*"
            )
            Interpreter = tf.lite.Interpreter
        interpreter = Interpreter(model_path=os.fspath(path))
    interpreter.allocate_tensors()
    return interpreter


def run_tflite(path, inputs) -> dict:
    """Run the `.tflite` file at `path` on a batch; outputs by name."""
    interpreter = tflite_interpreter(path)
    runner = interpreter.get_signature_runner("serving_default")
    (name,) = runner.get_input_details()
    inputs = np.asarray(inputs)
    return runner(**{name: inputs})
