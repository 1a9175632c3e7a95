"""The run configuration: one YAML file, validated by pydantic. Unknown keys are errors that name the field
path (``arms.2.taks: extra inputs are not permitted``), so a typo never silently falls back to a default.

Hyper-parameters resolve in layers: the task spec's defaults (PROTOCOL §7) ← the config-wide ``intermediate``
/ ``target_training`` block ← the arm's / target's own ``training`` block.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from xstilts.errors import ConfigError

Split = Literal["train", "dev", "test"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelConfig(_Strict):
    name: str = Field("e5-small", description="hub id, local folder, 'e5-small' (embedded) or 'tiny' (tests)")
    revision: str | None = None
    num_layers: int | None = Field(None, ge=1, description="keep only the first N transformer layers")
    freeze_word_embeddings: bool = False
    freeze_layers: int = Field(0, ge=0, description="also freeze all embeddings and the first N layers")
    head_pooling: Literal["cls", "mean"] = Field(
        "cls", description="sequence representation for pooled heads"
    )
    head_dropout: float = Field(0.1, ge=0.0, lt=1.0)
    attention: Literal["auto", "eager", "sdpa"] = Field(
        "auto", description="attention kernel; auto = eager on CPU (faster at short lengths), sdpa on GPUs"
    )


class DataConfig(_Strict):
    xtreme_dir: Path | None = Field(
        None, description="XTREME download/+labels/ root (default: XSTILTS_DATA_DIR)"
    )
    intermediate_dir: Path | None = Field(
        None, description="intermediate-task root (XSTILTS_INTERMEDIATE_DIR)"
    )
    source: Literal["auto", "local", "hub"] = "auto"
    task_dirs: list[Path] = Field(default_factory=list, description="extra folders of task spec YAML files")


class DataRef(_Strict):
    """Where a split's examples come from. Every field defaults to the task's own choice."""

    task: str | None = Field(None, description="take the data of another task (e.g. XNLI trains on MNLI)")
    split: Split | None = None
    language: str | None = None
    max_examples: int | None = Field(None, ge=1, description="use only the first N examples (deterministic)")


class TrainingConfig(_Strict):
    """Overrides; ``None`` means 'inherit'."""

    learning_rate: float | None = Field(None, gt=0)
    head_learning_rate: float | None = Field(
        None, gt=0, description="the task heads' rate (default: learning_rate)"
    )
    batch_size: int | None = Field(None, ge=1, description="effective batch size")
    per_device_batch_size: int | None = Field(None, ge=1)
    epochs: float | None = Field(None, gt=0)
    max_steps: int | None = Field(None, ge=1)
    max_seq_length: int | None = Field(None, ge=8)
    doc_stride: int | None = Field(None, ge=1, description="overlap of QA / long-input windows (tokens)")
    max_query_length: int | None = Field(None, ge=1, description="span QA: question tokens kept")
    warmup_ratio: float | None = Field(None, ge=0, le=1)
    weight_decay: float | None = Field(None, ge=0)
    max_grad_norm: float | None = Field(None, ge=0)
    eval_every: int | None = Field(None, ge=1, description="optimizer steps between validations")
    eval_examples: int | None = Field(None, ge=1, description="English dev examples used for validation")
    patience: int | None = Field(None, ge=1)
    checkpoint_every: int | None = Field(
        None, ge=1, description="optimizer steps between resumable checkpoints (a killed stage resumes there)"
    )
    max_negative_windows: int | None = Field(
        None,
        ge=0,
        description="span QA training: keep at most N windows without the answer per question (the first, in "
        "document order); windows holding the answer are always kept. Long documents (COVID-QA articles) "
        "otherwise yield dozens of answerless windows per question. Evaluation always reads every window.",
    )

    def merged(self, *others: TrainingConfig) -> TrainingConfig:
        """self, overridden by each of ``others`` in turn (later wins)."""
        data = self.model_dump()
        for o in others:
            data.update({k: v for k, v in o.model_dump().items() if v is not None})
        return TrainingConfig(**data)


DEFAULT_TRAINING = TrainingConfig(
    per_device_batch_size=8,
    doc_stride=128,
    max_query_length=64,
    warmup_ratio=0.1,
    weight_decay=0.0,
    max_grad_norm=1.0,
    eval_every=1000,
    eval_examples=500,
    patience=30,
    checkpoint_every=500,
)


class ArmConfig(_Strict):
    """An intermediate arm: no tasks = the baseline (phase 0 → 2)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
    tasks: list[str] = Field(default_factory=list)
    sampler: str = "proportional"
    sampler_options: dict = Field(default_factory=dict)
    examples_cap: int | None = Field(None, ge=1, description="per-task cap (capped sampler and step budget)")
    max_train_examples: int | None = Field(None, ge=1, description="first N training examples of each task")
    training: TrainingConfig = TrainingConfig()


class RetrievalConfig(_Strict):
    """BUCC / Tatoeba embedding and mining settings (PROTOCOL §6); recorded with every retrieval number."""

    layer: int | Literal["middle"] = Field(
        "middle", description="hidden_states index (0 = embeddings); middle = round(layers × 14/24)"
    )
    pooling: Literal["mean", "cls"] = "mean"
    pool_special_tokens: bool = True
    max_seq_length: int = Field(512, ge=8)
    k: int = Field(4, ge=1, description="BUCC: neighbours in the margin")
    margin: Literal["ratio", "distance", "absolute"] = "ratio"
    mode: Literal["max", "fwd", "bwd", "intersect"] = "max"
    layer_sweep: list[int] = Field(
        default_factory=list, description="also score these layers (one forward pass; recorded as extra rows)"
    )

    def settings(self):
        from xstilts.retrieval.embed import RetrievalSettings

        return RetrievalSettings(**self.model_dump(exclude={"layer_sweep"}))


class TargetConfig(_Strict):
    task: str
    languages: list[str] | Literal["all"] = Field("all", description="'all' = every language with gold")
    train: DataRef = DataRef()
    dev: DataRef = DataRef()
    eval_split: Split = "test"
    max_eval_examples: int | None = Field(
        None,
        ge=1,
        description="first N evaluation examples per language (BUCC/Tatoeba: a smaller corpus, retrieval/subset.py)",
    )
    gold_only: bool = Field(False, description="skip languages whose evaluation split has no gold labels")
    training: TrainingConfig = TrainingConfig()


class ExecutorConfig(_Strict):
    """Where stages run. The experiment file stays the same from a laptop to a cluster: only this block moves."""

    kind: Literal["local", "ray", "slurm"] = "local"
    workers: int = Field(1, ge=1, description="local: stages run at once (1 = in this process)")
    cpus_per_stage: int = Field(1, ge=1)
    processes_per_stage: int = Field(
        1, ge=1, description="training stages run under `accelerate launch` with this many processes (DDP: one "
        "per GPU; on CPUs the cores are split between them); 1 = in the stage's own process",
    )  # fmt: skip
    gpus_per_stage: int = Field(0, ge=0)
    retries: int = Field(1, ge=0, description="ray: re-run a stage whose worker died (it resumes)")
    ray_address: str | None = Field(
        None, description="ray: cluster address ('auto'); None = a local instance"
    )
    ray_num_cpus: int | None = Field(None, ge=1, description="ray: CPUs of a local instance")
    slurm_cluster: Literal["slurm", "local", "debug"] = Field(
        "slurm", description="submitit backend; local/debug run the same jobs on this machine (tests)"
    )
    slurm_partition: str | None = None
    slurm_timeout_min: int = Field(240, ge=1)
    slurm_array_parallelism: int = Field(64, ge=1)


class TrackingConfig(_Strict):
    """Optional experiment tracking (xstilts.tracking): one tracker run per stage. Off by default."""

    backends: list[Literal["tensorboard", "wandb", "mlflow"]] = Field(
        default_factory=list, description="empty = no tracking"
    )
    project: str | None = Field(None, description="experiment / project name (default: the run's name)")
    dir: Path | None = Field(None, description="local tracker files (default: <run dir>/tracking)")


Group = Literal["general", "biomedical", "legal"]  # arm groups a contrast can name


class AnalysisConfig(_Strict):
    """What the report tests (``xstilts report``): the primary contrasts (Holm-adjusted across them) and
    whether targets whose baseline is not above its majority / constant floor leave the primary scope."""

    primary_contrasts: list[tuple[Group, Group]] = Field(
        default_factory=lambda: [("biomedical", "general"), ("legal", "general")],
        description="(group, reference) pairs of arm groups",
    )
    exclude_floor_targets: bool = True


class RunConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    output_dir: Path = Path("runs")
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    seeds: list[int] = Field(default_factory=lambda: [1], min_length=1)
    mixed_precision: Literal["no", "bf16", "fp16"] = Field("no", description="bf16/fp16 autocast on GPUs")
    intermediate: TrainingConfig = TrainingConfig()
    target_training: TrainingConfig = TrainingConfig()
    retrieval: RetrievalConfig = RetrievalConfig()
    arms: list[ArmConfig] = Field(default_factory=lambda: [ArmConfig(name="baseline")], min_length=1)
    executor: ExecutorConfig = ExecutorConfig()
    tracking: TrackingConfig = TrackingConfig()
    analysis: AnalysisConfig = AnalysisConfig()
    targets: list[TargetConfig] = Field(min_length=1)

    @field_validator("arms")
    @classmethod
    def _unique_arms(cls, arms: list[ArmConfig]) -> list[ArmConfig]:
        names = [a.name for a in arms]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"arm names must be unique: {dupes}")
        return arms

    @model_validator(mode="after")
    def _unique_targets(self) -> RunConfig:
        names = [t.task for t in self.targets]
        if len(set(names)) != len(names):
            raise ValueError("each target task may appear once")
        return self

    @property
    def run_dir(self) -> Path:
        return self.output_dir / self.name


def baseline_arm(cfg: RunConfig) -> str | None:
    """The arm without intermediate tasks: every Δ is taken against it."""
    return next((a.name for a in cfg.arms if not a.tasks), None)


def _describe(err: ValidationError, path: Path | str) -> str:
    lines = [f"{path}: invalid configuration"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "<root>"
        lines.append(f"  {loc}: {e['msg']}")
    return "\n".join(lines)


def load_config(path: Path) -> RunConfig:
    """Read and validate. Data folders and a local model path resolve against the config file's folder;
    ``output_dir`` against the working directory (where the user runs the command)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such configuration file") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the configuration must be a mapping")
    try:
        cfg = RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from exc
    return _resolve_paths(cfg, path.parent)


def _resolve_paths(cfg: RunConfig, base: Path) -> RunConfig:
    def fix(p: Path | None) -> Path | None:
        return None if p is None else (p if p.is_absolute() else (base / p).resolve())

    data = cfg.data.model_copy(
        update={
            "xtreme_dir": fix(cfg.data.xtreme_dir),
            "intermediate_dir": fix(cfg.data.intermediate_dir),
            "task_dirs": [fix(p) for p in cfg.data.task_dirs],
        }
    )
    model = cfg.model
    if not Path(model.name).is_absolute() and (base / model.name).exists():
        model = model.model_copy(update={"name": str((base / model.name).resolve())})
    return cfg.model_copy(update={"data": data, "model": model})


def stable_hash(obj) -> str:
    """Short content hash of JSON-able settings (keys sorted): names stage folders and result rows."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]
