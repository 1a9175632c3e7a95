"""Experiment tracking: off by default, one TensorBoard run per stage with its curve and final metrics."""

from types import SimpleNamespace

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from xstilts.config import load_config
from xstilts.errors import ConfigError
from xstilts.pipeline import Pipeline
from xstilts.tracking import StageTracker, check_backends, flat_params

from .conftest import write_grid


def test_flat_params_turn_nested_settings_into_scalars():
    flat = flat_params(
        {"arm": {"name": "mnli", "tasks": ["mnli", "snli"], "cap": None}, "seed": 2, "lr": 1e-4}
    )
    assert flat == {"arm.name": "mnli", "arm.tasks": "['mnli', 'snli']", "seed": 2, "lr": 1e-4}


def test_missing_backend_package_fails_before_compute(monkeypatch):
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r"tracking.backends.0: wandb needs the 'wandb' package"):
        check_backends(["wandb"])
    with pytest.raises(ConfigError, match="unknown backend 'neptune'"):
        check_backends(["neptune"])


def test_a_failing_tracker_is_dropped_not_fatal():
    class Broken:
        name = "broken"

        def log(self, values, step=None):
            raise OSError("disk full")

        def finish(self):
            pass

    tracker = StageTracker([Broken()])
    tracker.log({"loss": 1.0}, 1)
    tracker.log_rows([SimpleNamespace(language="de", metric="accuracy", value=40.0)])
    assert not tracker


def test_tensorboard_gets_one_run_per_stage(tmp_path):
    arms = [{"name": "baseline"}, {"name": "mnli", "tasks": ["mnli"], "max_train_examples": 24}]
    path = write_grid(tmp_path, arms, ["xnli"], [1], tracking={"backends": ["tensorboard"]})
    cfg = load_config(path)
    Pipeline(cfg, echo=lambda line: None).run()
    runs = sorted(p.name for p in (cfg.run_dir / "tracking" / "tensorboard").iterdir())
    assert runs == ["baseline-xnli-s1", "intermediate-mnli-s1", "mnli-xnli-s1"]
    events = EventAccumulator(str(cfg.run_dir / "tracking" / "tensorboard" / "mnli-xnli-s1"))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"loss/xnli", "learning_rate", "validation_score", "de/accuracy"} <= scalars
    assert [e.step for e in events.Scalars("loss/xnli")] == [1, 2, 3]


def test_tracking_is_off_by_default(tmp_path):
    path = write_grid(tmp_path, [{"name": "baseline"}], ["xnli"], [1])
    cfg = load_config(path)
    assert cfg.tracking.backends == []
    Pipeline(cfg, echo=lambda line: None).run()
    assert not (cfg.run_dir / "tracking").exists()
