"""Regularized fine-tuning: penalties that keep a fine-tuned model near
what it was pretrained to be (`L2SP`) or keep its features from carrying
what does not transfer (`BSS`)."""

from tlkeras.regularizers.bss import BSS
from tlkeras.regularizers.l2sp import L2SP

__all__ = ["BSS", "L2SP"]
