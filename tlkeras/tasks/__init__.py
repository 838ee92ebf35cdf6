"""Tasks: what a model predicts (multiclass, binary, multilabel, regression,
features), and the loss, metrics, head activation and serving outputs that
follow from it."""

from tlkeras.tasks.task import TASKS
from tlkeras.tasks.task import Task
from tlkeras.tasks.task import get_task
from tlkeras.tasks.task import task_of

__all__ = ["TASKS", "Task", "get_task", "task_of"]
