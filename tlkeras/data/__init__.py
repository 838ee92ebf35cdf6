"""Data: image and text datasets from folders, files, arrays and
tensorflow-datasets."""

from tlkeras.data.augmentation import PRESETS
from tlkeras.data.augmentation import augmentation_layers
from tlkeras.data.domains import zip_domains
from tlkeras.data.image_dataset import image_dataset
from tlkeras.data.service import PROCESSING_MODES
from tlkeras.data.service import start_dispatcher
from tlkeras.data.service import start_worker
from tlkeras.data.text_dataset import text_dataset

__all__ = [
    "PRESETS",
    "PROCESSING_MODES",
    "augmentation_layers",
    "image_dataset",
    "start_dispatcher",
    "start_worker",
    "text_dataset",
    "zip_domains",
]
