"""Regularized fine-tuning: penalties that keep a fine-tuned model near
what it was pretrained to be (`L2SP`)."""

from tlkeras.regularizers.l2sp import L2SP

__all__ = ["L2SP"]
