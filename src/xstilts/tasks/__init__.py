"""Declarative task specs (one YAML file each) and the registry that finds them."""

from xstilts.tasks.registry import TaskRegistry, get_registry
from xstilts.tasks.spec import TaskSpec

__all__ = ["TaskRegistry", "TaskSpec", "get_registry"]
