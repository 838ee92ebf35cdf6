"""Shared fixtures: seeding, the shared assets, tiny models."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import pytest  # noqa: E402

# The checkout sits beside shared/: <root>/main/tests -> <root>/shared/assets
DEFAULT_ASSETS = Path(__file__).resolve().parents[2] / "shared" / "assets"
MOBILENET_V2_035 = (
    "weights/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
)


@pytest.fixture(autouse=True)
def seed():
    keras.utils.set_random_seed(1234)
    yield


@pytest.fixture(scope="session")
def assets() -> Path:
    """The shared assets folder, or skip the test with the reason."""
    path = Path(os.environ.get("TLKERAS_ASSETS") or DEFAULT_ASSETS)
    if not path.is_dir():
        pytest.skip(
            f"shared assets not found at {path}; set TLKERAS_ASSETS to the "
            "folder holding weights/, hub/ and datasets/"
        )
    return path


@pytest.fixture(scope="session")
def mobilenet_v2_weights(assets) -> str:
    path = assets / MOBILENET_V2_035
    if not path.is_file():
        pytest.skip(f"asset missing: {path}")
    return str(path)
