"""The schema of a task entry. A task is data: format, where its files/hub splits are, labels, metric,
domain group, licence, default hyper-parameters. Per-language variants (``xnli_de``) are generated from
``languages`` and the file templates, never written out by hand.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Format = Literal["classification", "tagging", "span_qa", "multiple_choice", "retrieval"]
Group = Literal["xtreme", "general", "biomedical", "legal"]
Split = Literal["train", "dev", "test"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalSource(_Strict):
    """Original files under a data root. Templates may use ``{lang}`` (and only that)."""

    root: Literal["xtreme", "intermediate"] = Field(
        description="which data folder the templates are relative to"
    )
    reader: str = Field(description="name of a registered reader (xstilts.data.readers)")
    files: dict[Split, str] = Field(description="split -> path template")
    gold: dict[Split, str] = Field(default_factory=dict, description="split -> gold file template (labels/)")
    options: dict[Split | Literal["all"], dict] = Field(
        default_factory=dict, description="reader keyword options per split ('all' applies to every split)"
    )

    def reader_options(self, split: str) -> dict:
        return {**self.options.get("all", {}), **self.options.get(split, {})}


class HubSource(_Strict):
    """A Hugging Face ``datasets`` source; ``config`` may use ``{lang}`` / ``{lang_name}`` / ``{lang_iso3}``."""

    dataset: str
    config: str | None = None
    splits: dict[Split, str] = Field(description="split -> hub split name")
    mapper: str = Field(description="name of a registered hub row mapper")
    options: dict = Field(default_factory=dict)


class Hyper(_Strict):
    """Default fine-tuning hyper-parameters (PROTOCOL §7); a run config may override any of them."""

    learning_rate: float = 1e-5
    batch_size: int = 32  # effective batch (per-device batch × accumulation)
    epochs: float = 3.0
    max_seq_length: int = 256
    warmup_ratio: float = 0.1
    weight_decay: float = 0.0


class TaskSpec(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    group: Group
    format: Format
    pair: bool = Field(default=False, description="classification: the input is a text pair")
    labels: tuple[str, ...] = Field(default=(), description="label set (classification / tagging)")
    num_choices: int | None = None
    languages: tuple[str, ...] = Field(default=("en",), description="official evaluation languages")
    train_language: str = "en"
    metric: Literal["accuracy", "f1", "micro_f1", "macro_f1", "token_accuracy", "em_f1"] = Field(
        description="the metric a task is early-stopped and selected on; em_f1 = (F1 + EM) / 2 for QA"
    )
    negative_label: str | None = Field(
        default=None, description="classification: the 'no relation' class that micro F1 leaves out (DDI)"
    )
    unanswerable: bool = Field(
        default=False,
        description="span QA: some questions have no answer; decoding may predict '' (SQuAD 2.0)",
    )
    local: LocalSource | None = None
    hub: HubSource | None = None
    train_from: str | None = Field(
        default=None, description="take the training split from this other task (XNLI trains on MNLI)"
    )
    hyper: Hyper = Hyper()
    license: str = "unknown"
    gated: bool = Field(
        default=False, description="needs a data agreement: never downloaded, local path only"
    )
    long_input: Literal["truncate", "window"] = Field(
        default="truncate", description="what to do with inputs longer than max_seq_length"
    )
    notes: str = ""

    @model_validator(mode="after")
    def _check(self) -> TaskSpec:
        if self.local is None and self.hub is None and self.train_from is None:
            raise ValueError(f"task {self.name!r} has neither local files nor a hub source")
        if self.gated and self.hub is not None:
            raise ValueError(f"task {self.name!r} is gated and must not declare a hub source")
        if self.format == "multiple_choice" and not self.num_choices:
            raise ValueError(f"multiple-choice task {self.name!r} needs num_choices")
        return self

    def variant_id(self, language: str) -> str:
        """Flat per-language id (jiant style): ``xnli_de``."""
        return f"{self.name}_{language}"
