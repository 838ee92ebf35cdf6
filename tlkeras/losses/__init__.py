"""Domain-adaptation losses, usable in any Keras model: `MMD` (multi-kernel
maximum mean discrepancy), `CORAL` (correlation alignment) and `MCC`
(minimum class confusion), each as a function and as a `keras.losses.Loss`.
"""

from tlkeras.losses.coral import CORAL
from tlkeras.losses.coral import coral
from tlkeras.losses.mcc import MCC
from tlkeras.losses.mcc import mcc
from tlkeras.losses.mmd import ESTIMATORS as MMD_ESTIMATORS
from tlkeras.losses.mmd import MMD
from tlkeras.losses.mmd import mmd

__all__ = ["CORAL", "MCC", "MMD", "MMD_ESTIMATORS", "coral", "mcc", "mmd"]
