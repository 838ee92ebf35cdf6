"""Heads: linear probes and MLPs, completed by the builders."""

from tlkeras.heads.head import MLP
from tlkeras.heads.head import Head
from tlkeras.heads.head import Linear
from tlkeras.heads.resolve import resolve_head

__all__ = ["Head", "Linear", "MLP", "resolve_head"]
