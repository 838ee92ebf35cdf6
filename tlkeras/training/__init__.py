"""Training machinery: optimizer state that follows trainability."""

from tlkeras.training.optimizer_state import rebuild_optimizer
from tlkeras.training.optimizer_state import same_variables

__all__ = ["rebuild_optimizer", "same_variables"]
