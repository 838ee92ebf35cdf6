"""Heads: linear probes and MLPs, completed by the builders."""

from tlkeras.heads.head import MLP
from tlkeras.heads.head import Head
from tlkeras.heads.head import Linear
from tlkeras.heads.multi_head import MultiHead
from tlkeras.heads.resolve import resolve_head

__all__ = ["Head", "Linear", "MLP", "MultiHead", "resolve_head"]
