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
    "tlkeras.tasks",
    "tlkeras.callbacks",
    "tlkeras.recipes",
    "tlkeras.data",
    "tlkeras.evaluation",
    "tlkeras.plots",
    "tlkeras.strategies",
    "tlkeras.tuning",
    "tlkeras.export",
    "tlkeras.demo",
    "tlkeras.cli",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_every_name_in_all_resolves(name):
    module = importlib.import_module(name)
    assert module.__all__
    for attribute in module.__all__:
        assert getattr(module, attribute) is not None


OPTIONAL = (
    "tensorflow_hub",
    "tensorflow_datasets",
    "keras_tuner",
    "matplotlib",
)


def test_import_works_without_optional_packages():
    # `None` in sys.modules makes `import name` raise ImportError.
    code = (
        f"import sys\nfor name in {OPTIONAL!r}: sys.modules[name] = None\n"
        "import tlkeras, tlkeras.demo, tlkeras.cli\n"
        "from tlkeras.plots import curves\n"
        "try:\n"
        "    curves({'a': [1.0]}, 'never.png')\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "pip install tlkeras[plot]" in out.stdout
