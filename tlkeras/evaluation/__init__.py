"""Reports on models: the layer-group summary."""

from tlkeras.evaluation.summary import summary

__all__ = ["summary"]
