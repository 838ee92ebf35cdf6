"""Data: image datasets from folders, arrays and tensorflow-datasets."""

from tlkeras.data.augmentation import PRESETS
from tlkeras.data.augmentation import augmentation_layers
from tlkeras.data.image_dataset import image_dataset

__all__ = ["PRESETS", "augmentation_layers", "image_dataset"]
