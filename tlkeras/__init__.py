"""tlkeras: transfer learning for Keras 3.

The names most users need are here; each subpackage (`tlkeras.bases`,
`tlkeras.heads`, `tlkeras.freezing`, ...) lists the rest in its `__all__`.
The subpackages are layered, each importing only from those below it:
`bases | heads | data | tasks` <- `freezing` <- `training` <-
`callbacks | recipes | evaluation | plots` <- `builders` <- `strategies` <-
`tuning | export` <- `demo` <- `cli` (checked by `lint-imports`, the
contract in setup.cfg).
"""

import os as _os

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from tlkeras import bases  # noqa: E402
from tlkeras import builders  # noqa: E402
from tlkeras import callbacks  # noqa: E402
from tlkeras import data  # noqa: E402
from tlkeras import evaluation  # noqa: E402
from tlkeras import export  # noqa: E402
from tlkeras import freezing  # noqa: E402
from tlkeras import heads  # noqa: E402
from tlkeras import losses  # noqa: E402
from tlkeras import optimizers  # noqa: E402
from tlkeras import plots  # noqa: E402
from tlkeras import recipes  # noqa: E402
from tlkeras import regularizers  # noqa: E402
from tlkeras import strategies  # noqa: E402
from tlkeras import tasks  # noqa: E402
from tlkeras import training  # noqa: E402
from tlkeras import tuning  # noqa: E402
from tlkeras.bases import list_bases  # noqa: E402
from tlkeras.builders import MultiTaskModel  # noqa: E402
from tlkeras.builders import TransferModel  # noqa: E402
from tlkeras.builders import build_classifier  # noqa: E402
from tlkeras.builders import build_feature_extractor  # noqa: E402
from tlkeras.builders import build_multitask  # noqa: E402
from tlkeras.builders import build_regressor  # noqa: E402
from tlkeras.builders import transfer_weights  # noqa: E402
from tlkeras.evaluation import predict  # noqa: E402
from tlkeras.evaluation import summary  # noqa: E402
from tlkeras.freezing import LayerGroup  # noqa: E402
from tlkeras.freezing import layer_groups  # noqa: E402
from tlkeras.recipes import lr_find  # noqa: E402
from tlkeras.strategies import compare  # noqa: E402
from tlkeras.version import __version__  # noqa: E402

__all__ = [
    "LayerGroup",
    "MultiTaskModel",
    "TransferModel",
    "__version__",
    "bases",
    "build_classifier",
    "build_feature_extractor",
    "build_multitask",
    "build_regressor",
    "builders",
    "callbacks",
    "compare",
    "data",
    "evaluation",
    "export",
    "freezing",
    "heads",
    "layer_groups",
    "list_bases",
    "losses",
    "lr_find",
    "optimizers",
    "plots",
    "predict",
    "recipes",
    "regularizers",
    "strategies",
    "summary",
    "tasks",
    "training",
    "transfer_weights",
    "tuning",
]
