"""Shared by the notebooks: where the assets are, and the embedded data."""

import os
from pathlib import Path

ASSETS = Path(os.environ.get("TLKERAS_ASSETS") or Path.cwd().parents[1] / "shared" / "assets")
WEIGHTS = ASSETS / "weights" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
PHOTOS = ASSETS / "datasets" / "hymenoptera"
HUB = ASSETS / "hub" / "mobilenet_v3_small_075_224_feature_vector"
HAVE_PHOTOS = WEIGHTS.is_file() and (PHOTOS / "train").is_dir()
OUT = Path(os.environ.get("NOTEBOOK_OUT", "notebook_outputs"))
OUT.mkdir(exist_ok=True)
