"""A grid does each piece of work once: one intermediate checkpoint per (arm, seed), one tokenisation per
task, and nothing at all on a re-run."""

from xstilts.config import load_config
from xstilts.grid.graph import build_graph, counts
from xstilts.grid.plan import make_plan
from xstilts.pipeline import Pipeline

from .conftest import write_grid

ARMS = [{"name": "mnli", "tasks": ["mnli"], "max_train_examples": 24},
        {"name": "sst2", "tasks": ["sst2"], "max_train_examples": 24}]  # fmt: skip


def test_two_arms_three_targets_two_seeds(tmp_path, fresh_cache, monkeypatch):
    import xstilts.features as features

    written = []
    write = features._write_atomic
    monkeypatch.setattr(
        features, "_write_atomic", lambda table, path: (written.append(path.name), write(table, path))
    )

    cfg = load_config(write_grid(tmp_path, ARMS, ["xnli", "pawsx", "udpos"], [1, 2]))
    plan = make_plan(Pipeline(cfg, echo=lambda s: None), measure=False)
    assert {k: c["total"] for k, c in plan.counts.items()} == {"prepare": 5, "intermediate": 4, "target": 12}
    assert plan.naive == {"intermediate": 12, "prepare": 2 * 3 * 2 + 2 * 3 * 2}

    lines = []
    Pipeline(cfg, echo=lines.append).run()
    print("\n".join(line for line in lines if line.startswith(("stages", "[intermediate]", "[prepare]"))))
    assert len(list((tmp_path / "runs" / "grid" / "intermediate").glob("*/encoder"))) == 4
    assert sum(line.startswith("[intermediate]") for line in lines) == 4
    assert sum(line.startswith("[prepare]") for line in lines) == 5
    # every feature set was tokenised once, by a prepare stage; no training or evaluation stage rebuilt one
    files = sorted(p.name for p in (fresh_cache / "features").glob("*.arrow"))
    assert sorted(written) == files
    assert {f.split("-", 1)[0] for f in files} == {"mnli", "sst2", "xnli", "pawsx", "udpos"}

    again = []
    Pipeline(cfg, echo=again.append).run()
    stage_line = next(line for line in again if line.startswith("stages"))
    print(stage_line)
    assert stage_line == "stages: prepare 5 (5 done); intermediate 4 (4 done); target 12 (12 done)"
    assert not [line for line in again if line.startswith(("[prepare]", "[intermediate]", "[target]"))]
    assert sorted(p.name for p in (fresh_cache / "features").glob("*.arrow")) == files
    assert all(c["todo"] == 0 for c in counts(build_graph(Pipeline(cfg, echo=lambda s: None))).values())
