"""The demo studies run by `tlkeras demo`."""

from tlkeras.demo.digits import run_digits_study
from tlkeras.demo.photos import run_photo_study
from tlkeras.demo.shifted_digits import digits_classifier
from tlkeras.demo.shifted_digits import shifted_digits
from tlkeras.demo.study import STRATEGIES
from tlkeras.demo.study import StrategyResult
from tlkeras.demo.study import StudySettings
from tlkeras.demo.study import format_table
from tlkeras.demo.study import run_study

__all__ = [
    "STRATEGIES",
    "StrategyResult",
    "StudySettings",
    "digits_classifier",
    "format_table",
    "run_digits_study",
    "run_photo_study",
    "run_study",
    "shifted_digits",
]
