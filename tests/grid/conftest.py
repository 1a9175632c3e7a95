"""Tiny grids on the real sample data: the tiny random model (real XLM-R tokenizer), a few steps per stage."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from xstilts.paths import cache_dir

STEPS = {"max_steps": 3, "eval_every": 3, "eval_examples": 8, "batch_size": 4, "per_device_batch_size": 4,
         "max_seq_length": 48, "checkpoint_every": 1}  # fmt: skip

TARGETS = {
    "xnli": {"task": "xnli", "train": {"task": "mnli", "max_examples": 24}, "languages": ["de"],
             "max_eval_examples": 6},
    "pawsx": {"task": "pawsx", "train": {"split": "dev", "language": "en", "max_examples": 24},
              "languages": ["de"], "gold_only": True, "max_eval_examples": 6},
    "udpos": {"task": "udpos", "train": {"max_examples": 24}, "languages": ["de"], "max_eval_examples": 6},
}  # fmt: skip


def write_grid(folder: Path, arms: list[dict], targets: list[str], seeds: list[int], **extra) -> Path:
    cfg = {
        "name": "grid",
        "output_dir": str(folder / "runs"),
        "model": {"name": "tiny", "freeze_word_embeddings": True},
        "seeds": seeds,
        "intermediate": STEPS,
        "target_training": STEPS,
        "arms": arms,
        "targets": [TARGETS[t] for t in targets],
        **extra,
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "grid.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch) -> Path:
    """An empty feature cache that still shares the (expensive) converted embedded model."""
    cache = tmp_path / "cache"
    cache.mkdir()
    models = cache_dir() / "models"
    if models.exists():
        os.symlink(models, cache / "models")
    monkeypatch.setenv("XSTILTS_CACHE_DIR", str(cache))
    return cache
