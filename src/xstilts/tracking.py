"""Optional experiment tracking: TensorBoard, Weights & Biases or MLflow, off by default.

One tracker run per stage (an intermediate checkpoint or an arm → target cell), named after it, carrying the
stage's settings as hyperparameters, its training curve (loss, learning rate, validation score per step) and its
final metrics. The trackers are ``accelerate``'s; this module only opens one run per stage instead of one per
process. Tracking never changes what a stage computes, so it is not part of any stage hash, and a tracker that
fails while a stage runs is reported and dropped rather than failing the stage.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from xstilts.errors import ConfigError

log = logging.getLogger(__name__)

# backend name -> the package it needs (what `pip install` wants)
BACKENDS = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}


def check_backends(backends: list[str]) -> None:
    """Fail before any compute when a configured backend's package is missing."""
    for i, name in enumerate(backends):
        package = BACKENDS.get(name)
        if package is None:
            raise ConfigError(
                f"tracking.backends.{i}: unknown backend {name!r} (known: {', '.join(BACKENDS)})"
            )
        if importlib.util.find_spec(package) is None:
            raise ConfigError(
                f"tracking.backends.{i}: {name} needs the {package!r} package (pip install {package})"
            )


def flat_params(values: dict[str, Any], prefix: str = "") -> dict[str, bool | int | float | str]:
    """Nested settings as the flat scalar mapping every backend accepts (``a.b`` keys; lists as text)."""
    out: dict[str, bool | int | float | str] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out |= flat_params(value, f"{name}.")
        elif isinstance(value, bool | int | float | str):
            out[name] = value
        elif value is not None:
            out[name] = str(value)
    return out


class StageTracker:
    """Fans one stage's values out to the configured trackers; without trackers every call is a no-op."""

    def __init__(self, trackers: list | None = None):
        self._trackers = list(trackers or [])

    def __bool__(self) -> bool:
        return bool(self._trackers)

    def log(self, values: dict[str, float], step: int | None = None) -> None:
        for tracker in list(self._trackers):
            try:
                tracker.log(values, step=step)
            except Exception as err:  # a tracking outage must not cost the stage its compute
                log.warning("tracker %s failed (%s); dropped for this stage", tracker.name, err)
                self._trackers.remove(tracker)

    def log_rows(self, rows) -> None:
        """A stage's result rows as ``language/metric`` values."""
        values = {
            f"{r.language}/{r.metric}": float(r.value) for r in rows if isinstance(r.value, int | float)
        }
        if values:
            self.log(values)

    def finish(self) -> None:
        for tracker in self._trackers:
            try:
                tracker.finish()
            except Exception as err:
                log.warning("tracker %s did not close cleanly: %s", tracker.name, err)
        self._trackers = []


def _make(backend: str, project: str, run_name: str, folder: Path):
    from accelerate.tracking import MLflowTracker, TensorBoardTracker, WandBTracker

    if backend == "tensorboard":
        return TensorBoardTracker(run_name, folder / "tensorboard")
    if backend == "wandb":
        return WandBTracker(project, name=run_name, dir=str(folder), reinit=True)
    return MLflowTracker(experiment_name=project, run_name=run_name)


@contextmanager
def stage_run(
    backends: list[str], project: str, run_name: str, folder: Path, params: dict[str, Any]
) -> Iterator[StageTracker]:
    """A tracker run for one stage (``StageTracker()`` when no backend is configured)."""
    trackers = []
    for backend in backends:
        tracker = _make(backend, project, run_name, folder)
        tracker.start()
        tracker.store_init_configuration(flat_params(params))
        trackers.append(tracker)
    stage = StageTracker(trackers)
    try:
        yield stage
    finally:
        stage.finish()
