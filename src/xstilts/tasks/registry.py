"""Find task specs: the YAML files shipped in ``xstilts/tasks/specs/`` plus any user folders."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from xstilts.errors import ConfigError, UnknownNameError
from xstilts.tasks.spec import TaskSpec

BUILTIN_SPECS = Path(__file__).resolve().parent / "specs"


def _format_validation(path: Path, err: ValidationError) -> str:
    lines = [f"{path}: invalid task spec"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "<root>"
        lines.append(f"  {loc}: {e['msg']}")
    return "\n".join(lines)


def load_spec(path: Path) -> TaskSpec:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a task spec must be a mapping")
    try:
        return TaskSpec.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation(path, exc)) from exc


class TaskRegistry:
    """Task specs by name. Adding a task = dropping one YAML file into a specs folder."""

    def __init__(self, folders: list[Path]):
        self._specs: dict[str, TaskSpec] = {}
        self._files: dict[str, Path] = {}
        for folder in folders:
            for path in sorted(folder.rglob("*.yaml")):
                spec = load_spec(path)
                if spec.name in self._specs:
                    raise ConfigError(
                        f"{path}: task {spec.name!r} already defined in {self._files[spec.name]}"
                    )
                self._specs[spec.name] = spec
                self._files[spec.name] = path

    def names(self, group: str | None = None) -> list[str]:
        return sorted(n for n, s in self._specs.items() if group is None or s.group == group)

    def get(self, name: str) -> TaskSpec:
        if name not in self._specs:
            raise UnknownNameError("task", name, list(self._specs))
        return self._specs[name]

    def __contains__(self, name: str) -> bool:
        return name in self._specs

    def resolve_variant(self, task_id: str) -> tuple[TaskSpec, str | None]:
        """``xnli`` -> (spec, None); ``xnli_de`` -> (spec, "de"), checking the language is the task's.

        The language may be an official one or one the spec declares ``translated`` data for (``mnli_de``:
        German XNLI-MT MNLI). Load the variant's data with ``load_split(spec, split, lang, roots)``.
        """
        if task_id in self._specs:
            return self._specs[task_id], None
        base, _, lang = task_id.rpartition("_")
        if base in self._specs:
            spec = self._specs[base]
            if lang not in spec.variant_languages:
                raise UnknownNameError(f"language of task {base!r}", lang, spec.variant_languages)
            return spec, lang
        raise UnknownNameError("task", task_id, list(self._specs))


@lru_cache(maxsize=8)
def _registry(extra: tuple[str, ...]) -> TaskRegistry:
    return TaskRegistry([BUILTIN_SPECS, *map(Path, extra)])


def get_registry(extra_folders: tuple[str, ...] = ()) -> TaskRegistry:
    """The built-in registry, plus folders named in ``XSTILTS_TASK_DIRS`` (os.pathsep-separated) or given."""
    env = tuple(p for p in os.environ.get("XSTILTS_TASK_DIRS", "").split(os.pathsep) if p)
    return _registry(env + tuple(extra_folders))
