"""The schema of a task entry. A task is data: format, where its files/hub splits are, labels, metric,
domain group, licence, default hyper-parameters. Per-language variants (``xnli_de``) are generated from
``languages`` and the file templates, never written out by hand; a ``translated`` block adds variants for the
translated-data arm (``mnli_de``: German XNLI-MT training data), a ``derived`` block builds a task from other
tasks' data (DAPT text).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Format = Literal["classification", "tagging", "span_qa", "multiple_choice", "retrieval", "mlm"]
Group = Literal["xtreme", "general", "biomedical", "legal"]
Split = Literal["train", "dev", "test"]
Metric = Literal["accuracy", "f1", "micro_f1", "macro_f1", "token_accuracy", "em_f1", "mlm_accuracy"]


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


class TranslatedSource(LocalSource):
    """(Machine-)translated copies of the task's data -- the *translated-data* arm (translate-train MNLI, SQuAD).

    The same task in other languages: its flat variant id (``mnli_de``) resolves to (task, language) and loads
    these files, tagged with that language. Every template must use ``{lang}``.
    """

    languages: tuple[str, ...] = Field(description="languages that have translated files")
    translation: str = Field(default="", description="who translated it, how (provenance)")

    @model_validator(mode="after")
    def _templates_use_lang(self) -> TranslatedSource:
        for split, template in self.files.items():
            if "{lang}" not in template:
                raise ValueError(
                    f"translated file template for {split!r} must contain {{lang}}: {template!r}"
                )
        if not self.languages:
            raise ValueError("translated data needs at least one language")
        return self


class DerivedSource(_Strict):
    """Examples built from *other tasks'* data by a derived reader (``xstilts.data.readers.derived_reader``),
    e.g. the DAPT corpora (``task_text``: the passages of the biomedical tasks). No files of its own."""

    reader: str = Field(description="name of a registered derived reader")
    splits: tuple[Split, ...] = Field(default=("train",), description="splits this task has")
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
    sizes: dict[Split, int] = Field(
        default_factory=dict,
        description="rows of each split as the dataset card states them (counting needs no download)",
    )

    @model_validator(mode="after")
    def _sizes_of_known_splits(self) -> HubSource:
        unknown = sorted(set(self.sizes) - set(self.splits))
        if unknown:
            raise ValueError(
                f"sizes given for {unknown}, which are not among the hub splits {sorted(self.splits)}"
            )
        if any(n <= 0 for n in self.sizes.values()):
            raise ValueError("sizes must be positive row counts")
        return self


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
    metric: Metric = Field(
        description="the metric a task is early-stopped and selected on; em_f1 = (F1 + EM) / 2 for QA; "
        "mlm_accuracy = masked-token accuracy (MLM)"
    )
    negative_label: str | None = Field(
        default=None,
        description="classification: the 'no relation' class that micro F1 leaves out (DDI); with metric f1, "
        "the negative class of a binary task (F1 is the other class's)",
    )
    unanswerable: bool = Field(
        default=False,
        description="span QA: some questions have no answer; decoding may predict '' (SQuAD 2.0)",
    )
    local: LocalSource | None = None
    hub: HubSource | None = None
    translated: TranslatedSource | None = Field(
        default=None, description="translated copies in other languages (variant ids like mnli_de load them)"
    )
    derived: DerivedSource | None = Field(
        default=None, description="examples built from other tasks' data (DAPT text); excludes local and hub"
    )
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
        if self.local is None and self.hub is None and self.train_from is None and self.derived is None:
            raise ValueError(f"task {self.name!r} has neither local files nor a hub source")
        if self.derived is not None and (self.local is not None or self.hub is not None):
            raise ValueError(
                f"task {self.name!r}: a derived task has no local files or hub source of its own"
            )
        if (self.format == "mlm") != (self.metric == "mlm_accuracy"):
            raise ValueError(
                f"task {self.name!r}: format mlm goes with metric mlm_accuracy, and only with it"
            )
        if self.translated is not None and self.train_language in self.translated.languages:
            raise ValueError(
                f"task {self.name!r}: translated languages must not include the original {self.train_language!r}"
            )
        if self.gated and self.hub is not None:
            raise ValueError(f"task {self.name!r} is gated and must not declare a hub source")
        if self.format == "classification" and self.metric == "f1" and self.negative_label not in self.labels:
            raise ValueError(
                f"classification task {self.name!r} with metric f1 needs negative_label, one of its labels: "
                "f1 is the positive class's"
            )
        if self.format == "multiple_choice" and not self.num_choices:
            raise ValueError(f"multiple-choice task {self.name!r} needs num_choices")
        return self

    @property
    def variant_languages(self) -> tuple[str, ...]:
        """Languages a flat variant id (``xnli_de``, ``mnli_de``) may name: official ones, then translated ones."""
        extra = self.translated.languages if self.translated is not None else ()
        return self.languages + tuple(lg for lg in extra if lg not in self.languages)

    def variant_id(self, language: str) -> str:
        """Flat per-language id (jiant style): ``xnli_de``."""
        return f"{self.name}_{language}"
