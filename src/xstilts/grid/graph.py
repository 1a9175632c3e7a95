"""The stage graph of a run configuration: prepare (tokenise a task once for every use) → intermediate (per
arm × seed) → target (per arm × target × seed: fine-tune, evaluate every language, record). Stages are
identified by stable ids, know their output folder, and run in waves: every stage of a wave depends only on
earlier waves, so a wave's stages may run in parallel anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from xstilts import stages

if TYPE_CHECKING:
    from xstilts.pipeline import Pipeline

Kind = Literal["prepare", "intermediate", "target"]
KINDS: tuple[Kind, ...] = ("prepare", "intermediate", "target")


@dataclass(frozen=True)
class Stage:
    id: str
    kind: Kind
    folder: Path
    deps: tuple[str, ...] = ()
    #: what the stage is about, for plans and logs
    info: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def done(self) -> bool:
        return stages.is_done(self.folder)

    @property
    def started(self) -> bool:
        return stages.is_started(self.folder)

    @property
    def running(self) -> bool:
        return stages.is_running(self.folder)


def build_graph(pipe: Pipeline) -> list[Stage]:
    cfg = pipe.cfg
    graph: list[Stage] = []
    prepared: set[str] = set()

    def prepare(task: str) -> str | None:
        if pipe.task_spec(task)[0].format == "retrieval":
            return None  # retrieval tokenises inside its own stage: no training features
        sid = f"prepare:{task}"
        if sid not in prepared:
            prepared.add(sid)
            graph.append(Stage(sid, "prepare", pipe.prepare_folder(task), (), {"task": task}))
        return sid

    for seed in cfg.seeds:
        for arm in cfg.arms:
            if not arm.tasks:
                continue
            deps = tuple(d for d in (prepare(t) for t in arm.tasks) if d)
            graph.append(Stage(f"intermediate:{arm.name}:s{seed}", "intermediate",
                               pipe.intermediate_folder(arm, seed), deps,
                               {"arm": arm.name, "seed": seed, "tasks": list(arm.tasks)}))  # fmt: skip
    for seed in cfg.seeds:
        for arm in cfg.arms:
            for target in cfg.targets:
                deps = [d for d in (prepare(target.task),) if d]
                if arm.tasks:
                    deps.append(f"intermediate:{arm.name}:s{seed}")
                folder = pipe.target_folder(arm, pipe.encoder_dir(arm, seed), target, seed)
                graph.append(Stage(f"target:{arm.name}:{target.task}:s{seed}", "target", folder, tuple(deps),
                                   {"arm": arm.name, "target": target.task, "seed": seed}))  # fmt: skip
    return graph


def waves(graph: list[Stage]) -> list[list[Stage]]:
    """Stages grouped by depth in the dependency graph (prepare, then intermediate, then target)."""
    by_id = {s.id: s for s in graph}
    depth: dict[str, int] = {}

    def level(s: Stage) -> int:
        if s.id not in depth:
            depth[s.id] = 1 + max((level(by_id[d]) for d in s.deps), default=-1)
        return depth[s.id]

    out: dict[int, list[Stage]] = {}
    for s in graph:
        out.setdefault(level(s), []).append(s)
    return [out[k] for k in sorted(out)]


def counts(graph: list[Stage]) -> dict[str, dict[str, int]]:
    """Per kind: total, done, started (interrupted or running), to do."""
    out = {}
    for kind in KINDS:
        ss = [s for s in graph if s.kind == kind]
        done = sum(s.done for s in ss)
        out[kind] = {"total": len(ss), "done": done, "started": sum(s.started and not s.done for s in ss),
                     "todo": len(ss) - done}  # fmt: skip
    return out
