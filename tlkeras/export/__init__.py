"""Exports that serve raw inputs: SavedModel (TF Serving) and LiteRT."""

from tlkeras.export.saved_model import saved_model
from tlkeras.export.serving import ExportMismatchError
from tlkeras.export.tflite import run_tflite
from tlkeras.export.tflite import tflite
from tlkeras.export.tflite import tflite_interpreter

__all__ = [
    "ExportMismatchError",
    "run_tflite",
    "saved_model",
    "tflite",
    "tflite_interpreter",
]
