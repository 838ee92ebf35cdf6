"""Every public name resolves; optional packages load lazily."""

import importlib
import subprocess
import sys

import pytest

PACKAGES = [
    "tlkeras",
    "tlkeras.bases",
    "tlkeras.heads",
    "tlkeras.builders",
    "tlkeras.freezing",
    "tlkeras.training",
    "tlkeras.evaluation",
    "tlkeras.demo",
    "tlkeras.cli",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_every_name_in_all_resolves(name):
    module = importlib.import_module(name)
    assert module.__all__
    for attribute in module.__all__:
        assert getattr(module, attribute) is not None


def test_import_does_not_load_optional_packages():
    code = (
        "import sys, tlkeras, tlkeras.demo, tlkeras.cli; "
        "print(sorted(m for m in ('tensorflow_hub', 'tensorflow_datasets', "
        "'keras_tuner', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
