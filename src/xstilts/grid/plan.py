"""``xstilts plan``: the stage graph of a configuration — how many stages of each kind, which are done, which
are shared (one intermediate checkpoint serves every target; one tokenisation serves every stage that uses a
task) — and an estimate of the compute still to do, from a throughput figure measured on this machine."""

from __future__ import annotations

from dataclasses import dataclass

from xstilts.config import DataRef
from xstilts.errors import XstiltsError
from xstilts.grid.cost import FILL, TRAIN_SIZES, measured_throughput, model_shape, train_flops_per_token
from xstilts.grid.graph import Stage, build_graph, counts
from xstilts.pipeline import Pipeline, loop_settings


@dataclass
class Plan:
    stages: list[Stage]
    counts: dict[str, dict[str, int]]
    naive: dict[str, int]  # the same grid as a shell loop: every (arm, target, seed) retrains and retokenises
    seconds: dict[str, float | None]  # estimated compute still to do, per stage kind
    throughput: str

    def lines(self) -> list[str]:
        out = []
        for kind, c in self.counts.items():
            est = self.seconds.get(kind)
            cost = f", ~{_duration(est)} to do" if est else ""
            out.append(f"{kind:12s} {c['total']:4d} stages  {c['done']:4d} done  {c['started']:3d} interrupted"
                       f"  {c['todo']:4d} to do{cost}")  # fmt: skip
        out.append(f"naive loop: {self.naive['intermediate']} intermediate trainings and {self.naive['prepare']} "
                   f"tokenisations; this plan: {self.counts['intermediate']['total']} and "
                   f"{self.counts['prepare']['total']}")  # fmt: skip
        total = sum(v for v in self.seconds.values() if v)
        out.append(f"estimated compute to do: {_duration(total)} ({self.throughput})")
        return out


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def make_plan(pipe: Pipeline, measure: bool = True) -> Plan:
    graph = build_graph(pipe)
    cfg = pipe.cfg
    n_trained = sum(1 for t in cfg.targets if pipe.registry.get(t.task).format != "retrieval")
    naive = {"intermediate": sum(bool(a.tasks) for a in cfg.arms) * len(cfg.targets) * len(cfg.seeds),
             "prepare": len(cfg.arms) * n_trained * len(cfg.seeds)
             + sum(len(a.tasks) for a in cfg.arms) * len(cfg.targets) * len(cfg.seeds)}  # fmt: skip
    shape = model_shape(cfg.model.name, cfg.model.num_layers)
    seconds: dict[str, float | None] = {k: None for k in ("prepare", "intermediate", "target")}
    described = "not estimated" if not measure else f"no estimate: unknown shape of model {cfg.model.name!r}"
    if shape and measure:
        tp = measured_throughput(str(pipe.accelerator.device))
        described = f"{tp.flops_per_s / 1e9:.0f} GFLOP/s training measured on {tp.measured}"
        for stage in graph:
            if not stage.done:
                flops = _stage_flops(pipe, stage, shape)
                seconds[stage.kind] = (seconds[stage.kind] or 0.0) + flops / tp.flops_per_s
    return Plan(graph, counts(graph), naive, seconds, described)


def _train_size(pipe: Pipeline, task: str, ref: DataRef | None, cap: int | None) -> int:
    spec, _ = pipe.task_spec(task)
    try:
        n = len(pipe.view.load(pipe.view.train_ref(spec, ref)).examples)
    except (XstiltsError, OSError, ValueError):
        n = TRAIN_SIZES.get((ref.task if ref and ref.task else None) or spec.train_from or task, 10_000)
    if ref and ref.max_examples:
        n = min(n, ref.max_examples)
    return min(n, cap) if cap else n


def _stage_flops(pipe: Pipeline, stage: Stage, shape) -> float:
    cfg = pipe.cfg
    seed = cfg.seeds[0]
    if stage.kind == "intermediate":
        arm = next(a for a in cfg.arms if a.name == stage.info["arm"])
        total = 0.0
        for task in arm.tasks:
            spec, ref = pipe.task_data(task)
            loop, fs = loop_settings(spec, seed, cfg.intermediate, arm.training)
            n = _train_size(pipe, task, ref, arm.max_train_examples)
            total += _tokens(loop, n, fs.max_seq_length) * train_flops_per_token(shape, fs.max_seq_length)
        return total
    if stage.kind == "target":
        target = next(t for t in cfg.targets if t.task == stage.info["target"])
        spec = pipe.registry.get(target.task)
        languages = len(spec.languages) if target.languages == "all" else len(target.languages)
        if spec.format == "retrieval":
            # both sides of each language pair; sentences are short whatever max_seq_length allows
            sentences = 2 * (target.max_eval_examples or 2_000) * languages
            return sentences * RETRIEVAL_TOKENS * train_flops_per_token(shape, RETRIEVAL_TOKENS) / 3
        loop, fs = loop_settings(spec, seed, cfg.target_training, target.training)
        n = _train_size(pipe, target.task, target.train, None)
        n_eval = (target.max_eval_examples or 2_000) * languages
        seq = fs.max_seq_length
        return (_tokens(loop, n, seq) + n_eval * seq * FILL / 3) * train_flops_per_token(shape, seq)
    return 0.0


#: mean tokens of a BUCC / Tatoeba sentence with the XLM-R vocabulary (Tatoeba ~15, BUCC ~40)
RETRIEVAL_TOKENS = 32


def _tokens(loop, n: int, seq: int) -> float:
    examples = loop.max_steps * loop.batch_size if loop.max_steps else n * loop.epochs
    return examples * seq * FILL
