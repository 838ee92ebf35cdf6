"""Recipes: the default (`auto`), two-stage fine-tuning, LP-FT, a head
trained to convergence, schedules, the LR finder."""

from tlkeras.recipes.auto import auto
from tlkeras.recipes.fine_tune import STRATEGIES
from tlkeras.recipes.fine_tune import fine_tune
from tlkeras.recipes.fine_tune import lp_ft
from tlkeras.recipes.fine_tune import run_strategy
from tlkeras.recipes.head_stage import train_head
from tlkeras.recipes.lr_find import LRFinderResult
from tlkeras.recipes.lr_find import lr_find
from tlkeras.recipes.schedules import OneCycle
from tlkeras.recipes.schedules import warmup_cosine

__all__ = [
    "LRFinderResult",
    "STRATEGIES",
    "OneCycle",
    "auto",
    "fine_tune",
    "lp_ft",
    "lr_find",
    "run_strategy",
    "train_head",
    "warmup_cosine",
]
