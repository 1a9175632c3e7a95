"""The X-STILTs recipe for one run configuration:

pretrained encoder → intermediate training per arm (encoder kept, heads dropped) → a fresh head fine-tuned on
each target task's English data → zero-shot evaluation in every language → results database. Retrieval
targets (BUCC, Tatoeba) skip fine-tuning and embed with the intermediate encoder directly.

Each (arm, seed) intermediate checkpoint is trained once and reused by every target; every stage lives in a
hashed folder with a DONE marker, so re-running a configuration only does what is missing.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import yaml
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, broadcast_object_list, set_seed

from xstilts import faults, stages
from xstilts.config import (
    DEFAULT_TRAINING,
    ArmConfig,
    DataRef,
    RunConfig,
    TargetConfig,
    TrainingConfig,
    stable_hash,
)
from xstilts.data.loading import DataRoots
from xstilts.data.records import SplitData
from xstilts.datasets_view import DataView, Ref
from xstilts.errors import ConfigError, ModelError, UnknownNameError, XstiltsError
from xstilts.evaluation.predict import predict_logits
from xstilts.features import featurize, tokenizer_fingerprint
from xstilts.formats import get_format
from xstilts.formats.base import FeatureSettings
from xstilts.formats.span_qa import cap_negative_windows
from xstilts.metrics.official import main_score
from xstilts.models.loading import ModelSpec, load_encoder, load_tokenizer
from xstilts.models.task_model import MultiTaskModel, save_encoder
from xstilts.paths import default_intermediate_dir, default_xtreme_dir
from xstilts.progress import bar
from xstilts.results.db import ResultRow, record_results, record_run
from xstilts.tasks.mixtures import expand, mixtures
from xstilts.tasks.registry import TaskRegistry, get_registry
from xstilts.tasks.spec import TaskSpec
from xstilts.tracking import StageTracker, check_backends, stage_run
from xstilts.training.loop import LoopSettings, TaskStream, TrainReport, train

log = logging.getLogger("xstilts")


@dataclass
class PhaseTask:
    """One task inside a training phase: its (label-resolved) spec, data and features."""

    spec: TaskSpec
    train: SplitData
    dev: SplitData
    dev_source: str
    train_features: dict
    dev_features: dict


def loop_settings(spec: TaskSpec, seed: int, *layers: TrainingConfig) -> tuple[LoopSettings, FeatureSettings]:
    """Task-spec defaults (PROTOCOL §7) overridden by each config layer in turn."""
    h = spec.hyper
    base = TrainingConfig(
        learning_rate=h.learning_rate,
        batch_size=h.batch_size,
        epochs=h.epochs,
        max_seq_length=h.max_seq_length,
        warmup_ratio=h.warmup_ratio,
        weight_decay=h.weight_decay,
    )
    t = DEFAULT_TRAINING.merged(base, *layers)
    loop = LoopSettings(
        learning_rate=t.learning_rate,
        head_learning_rate=t.head_learning_rate,
        batch_size=t.batch_size,
        per_device_batch_size=min(t.per_device_batch_size, t.batch_size),
        epochs=t.epochs,
        max_steps=t.max_steps,
        warmup_ratio=t.warmup_ratio,
        weight_decay=t.weight_decay,
        max_grad_norm=t.max_grad_norm,
        eval_every=t.eval_every,
        patience=t.patience,
        seed=seed,
        checkpoint_every=t.checkpoint_every,
    )
    features = FeatureSettings(
        max_seq_length=t.max_seq_length, doc_stride=t.doc_stride, max_query_length=t.max_query_length,
        long_input=spec.long_input,
    )  # fmt: skip
    return loop, features


def eval_examples(*layers: TrainingConfig) -> int:
    return DEFAULT_TRAINING.merged(*layers).eval_examples


def negative_window_cap(*layers: TrainingConfig) -> int | None:
    return DEFAULT_TRAINING.merged(*layers).max_negative_windows


def with_label_vocabulary(spec: TaskSpec, *splits: SplitData) -> TaskSpec:
    """Open tag sets (CCG supertags) take their labels from the data; declared label sets stay as they are."""
    if spec.format != "tagging" or spec.labels:
        return spec
    from xstilts.formats.tagging import label_vocabulary

    return spec.model_copy(update={"labels": label_vocabulary([e for s in splits for e in s.examples], spec)})


MAJORITY = "majority_accuracy"  # reference row: always predicting the most frequent training label
LABELLED_FORMATS = ("classification", "multiple_choice")  # formats whose examples carry one label each


def majority_label(examples: list) -> str | None:
    labels = Counter(e.label for e in examples if e.label is not None)
    return labels.most_common(1)[0][0] if labels else None


def majority_accuracy(label: str, examples: list) -> float:
    return 100.0 * sum(e.label == label for e in examples) / len(examples)


def constant_floor(spec: TaskSpec, examples: list, language: str) -> tuple[str, float]:
    """(``constant_<metric>``, the best selection-metric score of one label predicted for every example).

    The floor for a metric that is not accuracy: a binary F1 is beaten by "always positive", not by the
    majority class (which may score 0), and a micro-F1 without the negative class likewise."""
    handler = get_format(spec.format)
    best = max(
        main_score(spec.metric, handler.score([label] * len(examples), examples, spec, language))
        for label in spec.labels
    )
    return f"constant_{spec.metric}", best


def _built(pt: PhaseTask) -> list[tuple[str, str, int]]:
    """(split, source, feature rows) of a phase task's training and validation features."""
    return [("train", pt.train.source, len(pt.train_features["input_ids"])),
            ("dev", pt.dev_source, len(pt.dev_features["input_ids"]))]  # fmt: skip


def _head(data: SplitData, n: int | None) -> SplitData:
    if not n or len(data.examples) <= n:
        return data
    return replace(data, examples=data.examples[:n], checksum=f"{data.checksum}[:{n}]")


class Pipeline:
    def __init__(self, cfg: RunConfig, echo=print, plan_only: bool = False):
        self.cfg = cfg
        self._echo = echo
        self.registry = get_registry(tuple(str(p) for p in cfg.data.task_dirs))
        cfg = self.cfg = expand_mixtures(cfg)
        check_config(cfg, self.registry)
        self.roots = DataRoots(
            cfg.data.xtreme_dir or default_xtreme_dir(),
            cfg.data.intermediate_dir or default_intermediate_dir(),
        )
        self.view = DataView(self.registry, self.roots, cfg.data.source)
        self.run_dir = cfg.run_dir
        self.db_path = self.run_dir / "results.sqlite"
        self.accelerator = _accelerator(cfg.mixed_precision)
        self.is_main = self.accelerator.is_main_process
        self._tracker = StageTracker()
        m = cfg.model
        self.base_model = ModelSpec(
            m.name, m.num_layers, m.freeze_word_embeddings, m.revision, m.freeze_layers, m.attention
        )
        try:
            self.tokenizer = load_tokenizer(m.name)
            self.tok_fp = tokenizer_fingerprint(self.tokenizer)
        except ModelError:
            if not plan_only:
                raise
            # planning a grid for another machine (hub model, no internet): counts and costs, no done-status
            self.tokenizer, self.tok_fp = None, f"unavailable:{m.name}"

    @contextmanager
    def _tracked(self, run_name: str, params: dict):
        """One tracker run around a stage (a no-op tracker when tracking is off); ``_train`` logs to it."""
        t = self.cfg.tracking
        folder = t.dir or self.run_dir / "tracking"
        with stage_run(
            t.backends if self.is_main else [], t.project or self.cfg.name, run_name, folder, params
        ) as tracker:
            self._tracker = tracker
            try:
                yield tracker
            finally:
                self._tracker = StageTracker()

    def echo(self, line: str) -> None:
        """Tell the user, and keep the line in the run folder's ``run.log`` (one process of a DDP stage)."""
        if not self.is_main:
            return
        self._echo(line)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.run_dir / "run.log", "a", encoding="utf-8") as log_file:
            log_file.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")

    # ---------------------------------------------------------------- keys
    def arm_key(self, arm: ArmConfig, seed: int | None) -> str:
        """Everything that determines an intermediate checkpoint (``seed=None``: the seed-free settings)."""
        if not arm.tasks:
            return "baseline"
        return stable_hash(
            {
                "model": self.base_model.key(),
                "head_pooling": self.cfg.model.head_pooling,
                "head_dropout": self.cfg.model.head_dropout,
                "arm": arm.model_dump(),
                "defaults": self.cfg.intermediate.model_dump(),
                "seed": seed,
                "tokenizer": self.tok_fp,
            }
        )

    def target_key(self, arm: ArmConfig, target: TargetConfig) -> str:
        """Seed-free settings of a (arm, target) cell: the ``settings_hash`` of its result rows."""
        spec = self.registry.get(target.task)
        phase = (
            self.cfg.retrieval.model_dump()
            if spec.format == "retrieval"
            else self.cfg.target_training.model_dump()
        )
        return stable_hash(
            {
                "arm": self.arm_key(arm, None),
                "target": target.model_dump(),
                "defaults": phase,
                "model": self.base_model.key(),
                "head": [self.cfg.model.head_pooling, self.cfg.model.head_dropout],
                "tokenizer": self.tok_fp,
            }
        )

    # ---------------------------------------------------------------- stage bookkeeping
    @contextmanager
    def _claim(self, folder: Path):
        """``stages.claim`` for this process. In a DDP stage the first process holds the lock and tells the
        others whether the stage is done; they share its work folder (checkpoints are written by the first)."""
        if self.accelerator.num_processes == 1:
            with stages.claim(folder) as work:
                yield work
        elif self.is_main:
            with stages.claim(folder) as work:
                broadcast_object_list([work is None])
                yield work
        else:
            done = broadcast_object_list([None])[0]
            yield None if done else stages.work_folder(folder)

    def _commit(self, work: Path, folder: Path, summary: dict) -> None:
        if self.is_main:
            stages.commit(work, folder, summary)

    def _record(self, rows: list[ResultRow]) -> None:
        if self.is_main:
            record_results(self.db_path, rows)

    # ---------------------------------------------------------------- data
    def _features(self, data: SplitData, spec: TaskSpec, fs: FeatureSettings) -> dict:
        feats, hit = featurize(data, spec, self.tokenizer, fs)
        log.debug(
            "features %s/%s/%s: %d rows (%s)",
            spec.name,
            data.split,
            data.language,
            len(feats["input_ids"]),
            "cache" if hit else "built",
        )
        return feats

    def _phase_task(
        self, spec: TaskSpec, fs: FeatureSettings, train_ref: DataRef | None, dev_ref: DataRef | None,
        max_train: int | None, n_eval: int, max_negative_windows: int | None = None,
    ) -> PhaseTask:  # fmt: skip
        train_ref = (train_ref or DataRef()).model_copy(
            update={"max_examples": max_train or (train_ref.max_examples if train_ref else None)}
        )
        train_data, dev_data, dev_source = self.view.train_and_dev(spec, train_ref, dev_ref, n_eval)
        spec = with_label_vocabulary(spec, train_data, dev_data)
        train_features = self._features(train_data, spec, fs)
        if max_negative_windows is not None and spec.format == "span_qa":
            train_features = cap_negative_windows(train_features, max_negative_windows)
        return PhaseTask(
            spec, train_data, dev_data, dev_source, train_features, self._features(dev_data, spec, fs)
        )  # fmt: skip

    # ---------------------------------------------------------------- model
    def _new_model(self, encoder_dir: Path | None, seed: int) -> MultiTaskModel:
        set_seed(seed)
        if encoder_dir is None:
            return MultiTaskModel(load_encoder(self.base_model, seed))
        # An intermediate checkpoint is already cut to num_layers; freezing must be re-applied.
        spec = replace(self.base_model, name=str(encoder_dir), num_layers=None, revision=None)
        return MultiTaskModel(load_encoder(spec, seed))

    def _add_head(self, model: MultiTaskModel, name: str, spec: TaskSpec) -> None:
        handler = get_format(spec.format)
        hidden = model.encoder.config.hidden_size
        model.add_head(
            name, handler.build_head(hidden, spec, self.cfg.model.head_dropout, self.cfg.model.head_pooling)
        )

    def _predict(
        self, model: MultiTaskModel, spec: TaskSpec, data: SplitData, feats: dict, head: str
    ) -> list:
        handler = get_format(spec.format)
        logits = predict_logits(
            model, head, handler, feats, self.tokenizer.pad_token_id, self.accelerator.device,
            autocast=self.accelerator.autocast, rank=self.accelerator.process_index,
            world=self.accelerator.num_processes,
        )  # fmt: skip
        return handler.decode(logits, feats, data.examples, spec)

    def _dev_scores(
        self, model: MultiTaskModel, tasks: dict[str, PhaseTask], majority: bool = False
    ) -> dict[str, dict]:
        """Each task's metrics on its English dev rows; ``majority``: also the accuracy of always predicting
        the most frequent training label (classification and multiple choice), the floor a model must beat."""
        out = {}
        for name, pt in tasks.items():
            preds = self._predict(model, pt.spec, pt.dev, pt.dev_features, name)
            out[name] = get_format(pt.spec.format).score(preds, pt.dev.examples, pt.spec, pt.dev.language)
            if majority and pt.spec.format in LABELLED_FORMATS and pt.dev.examples:
                label = majority_label(pt.train.examples)
                if label is not None:
                    out[name][MAJORITY] = majority_accuracy(label, pt.dev.examples)
                if pt.spec.format == "classification" and pt.spec.metric != "accuracy":
                    key, value = constant_floor(pt.spec, pt.dev.examples, pt.dev.language)
                    out[name][key] = value
        return out

    def _validation_score(self, model: MultiTaskModel, tasks: dict[str, PhaseTask]) -> float:
        """Mean of each task's selection metric on its English dev rows (multi-task: one number for all)."""
        scores = self._dev_scores(model, tasks)
        return sum(main_score(tasks[n].spec.metric, m) for n, m in scores.items()) / len(scores)

    def _train(
        self,
        model: MultiTaskModel,
        tasks: dict[str, PhaseTask],
        loop: LoopSettings,
        label: str,
        checkpoint_dir: Path | None = None,
    ) -> TrainReport:
        acc = self.accelerator
        streams = {
            name: TaskStream(
                name,
                get_format(pt.spec.format),
                pt.train_features,
                self.tokenizer.pad_token_id,
                loop.per_device_batch_size,
                loop.seed,
            )  # fmt: skip
            for name, pt in tasks.items()
        }
        return train(
            model, streams, loop, acc, lambda m: self._validation_score(m, tasks), label,
            checkpoint_dir=checkpoint_dir, checkpoint_every=loop.checkpoint_every,
            log_metrics=self._tracker.log if self._tracker else None,
        )  # fmt: skip

    # ---------------------------------------------------------------- prepare
    def prepare_folder(self, task: str) -> Path:
        return self.run_dir / "prepare" / f"{task}-{stable_hash([self._prepare_uses(task), self.tok_fp])}"

    def _prepare_uses(self, task: str) -> list:
        """Every (role, settings) under which the configuration tokenises ``task``: what its prepare stage does."""
        uses = []
        for arm in self.cfg.arms:
            if task in arm.tasks:
                uses.append(
                    [
                        "arm",
                        arm.max_train_examples,
                        self.cfg.intermediate.model_dump(),
                        arm.training.model_dump(),
                    ]
                )
        for target in self.cfg.targets:
            if target.task == task:
                uses.append(["target", target.model_dump(), self.cfg.target_training.model_dump()])
        return uses

    def task_spec(self, task_id: str) -> tuple[TaskSpec, str | None]:
        """``mnli`` -> (mnli, None); a translated variant ``mnli_de`` -> (mnli, "de")."""
        return self.registry.resolve_variant(task_id)

    def task_data(self, task_id: str) -> tuple[TaskSpec, DataRef | None]:
        """The spec of an arm's task id and the training data it names (a variant: its language's files)."""
        spec, lang = self.task_spec(task_id)
        return spec, DataRef(language=lang) if lang else None

    def prepare(self, task: str) -> None:
        """Tokenise every split ``task`` needs, once, into the shared feature cache (later stages hit it)."""
        folder = self.prepare_folder(task)
        spec, arm_ref = self.task_data(task)
        with stages.claim(folder) as work:
            if work is None:
                return
            built = []
            seed = self.cfg.seeds[0]  # feature settings never depend on the seed
            for arm in (a for a in self.cfg.arms if task in a.tasks):
                _, fs = loop_settings(spec, seed, self.cfg.intermediate, arm.training)
                pt = self._phase_task(spec, fs, arm_ref, None, arm.max_train_examples,
                                      eval_examples(self.cfg.intermediate, arm.training))  # fmt: skip
                built += _built(pt)
            for i, target in enumerate(self.cfg.targets):
                if target.task != task:
                    continue
                _, fs = loop_settings(spec, seed, self.cfg.target_training, target.training)
                pt = self._phase_task(spec, fs, target.train, target.dev, None,
                                      eval_examples(self.cfg.target_training, target.training))  # fmt: skip
                built += _built(pt)
                langs = self.view.eval_languages(spec, target.eval_split, target.languages, target.gold_only,
                                                 f"targets.{i}.languages")  # fmt: skip
                for lang in langs:
                    _, data = self._eval_data(pt.spec, target, lang)
                    built.append((f"{target.eval_split}-{lang}", data.source,
                                  len(self._features(data, pt.spec, fs)["input_ids"])))  # fmt: skip
            stages.commit(work, folder, {"task": task, "features": built})
        self.echo(f"[prepare] {task}: tokenised {len(built)} splits")

    # ---------------------------------------------------------------- phase 1
    def encoder_dir(self, arm: ArmConfig, seed: int) -> Path | None:
        return self.intermediate_folder(arm, seed) / "encoder" if arm.tasks else None

    def intermediate_folder(self, arm: ArmConfig, seed: int) -> Path:
        return self.run_dir / "intermediate" / f"{arm.name}-s{seed}-{self.arm_key(arm, seed)}"

    def intermediate(self, arm: ArmConfig, seed: int) -> Path | None:
        """Train the arm's intermediate task(s); returns the encoder folder (None for the baseline)."""
        if not arm.tasks:
            return None
        folder = self.intermediate_folder(arm, seed)
        with self._claim(folder) as work:
            if work is None:
                self.echo(f"[intermediate] {arm.name} seed {seed}: done earlier")
            else:
                params = {"arm": arm.model_dump(), "seed": seed, "intermediate": self.cfg.intermediate.model_dump(),
                          "model": self.cfg.model.model_dump()}  # fmt: skip
                with self._tracked(f"intermediate-{arm.name}-s{seed}", params) as tracker:
                    rows = self._train_intermediate(arm, seed, folder, work)
                    tracker.log_rows(rows)
                self._record(rows)
        return self.encoder_dir(arm, seed)

    def _train_intermediate(self, arm: ArmConfig, seed: int, folder: Path, work: Path) -> list[ResultRow]:
        loop, _ = loop_settings(self.task_spec(arm.tasks[0])[0], seed, self.cfg.intermediate, arm.training)
        loop.sampler, loop.sampler_options, loop.examples_cap = (
            arm.sampler,
            arm.sampler_options,
            arm.examples_cap,
        )
        n_eval = eval_examples(self.cfg.intermediate, arm.training)
        tasks: dict[str, PhaseTask] = {}
        for name in arm.tasks:
            spec, train_ref = self.task_data(name)
            _, fs = loop_settings(spec, seed, self.cfg.intermediate, arm.training)
            tasks[name] = self._phase_task(
                spec, fs, train_ref, None, arm.max_train_examples, n_eval,
                negative_window_cap(self.cfg.intermediate, arm.training),
            )  # fmt: skip
        model = self._new_model(None, seed)
        for name, pt in tasks.items():
            self._add_head(model, name, pt.spec)
        report = self._train(model, tasks, loop, f"intermediate {arm.name} s{seed}", work / "checkpoint")
        dev_metrics = self._dev_scores(model, tasks, majority=True)

        if self.is_main:
            save_encoder(model.encoder, work / "encoder")
            self.tokenizer.save_pretrained(work / "encoder")
        rows = [
            ResultRow(self.cfg.model.name, arm.name, name, "en", metric, seed, self.arm_key(arm, None),
                      "intermediate-dev", value, self.cfg.name, "intermediate")
            for name, metrics in dev_metrics.items()
            for metric, value in metrics.items()
        ]  # fmt: skip
        data = {
            n: {"train": len(pt.train.examples), "train_source": pt.train.source, "dev": len(pt.dev.examples),
                "dev_source": pt.dev_source, "labels": list(pt.spec.labels), "checksum": pt.train.checksum}
            for n, pt in tasks.items()
        }  # fmt: skip
        self._commit(work, folder, {"arm": arm.name, "seed": seed, "report": asdict(report),
                                     "dev_metrics": dev_metrics, "data": data, "rows": [asdict(r) for r in rows],
                                     "provenance": provenance()})  # fmt: skip
        dev_text = ", ".join(
            f"{n} {tasks[n].spec.metric} {main_score(tasks[n].spec.metric, m):.1f}"
            + (f" (majority {m[MAJORITY]:.1f})" if MAJORITY in m else "")
            + "".join(f" ({k.replace('_', ' ')} {v:.1f})" for k, v in m.items() if k.startswith("constant_"))
            for n, m in dev_metrics.items()
        )
        self.echo(
            f"[intermediate] {arm.name} seed {seed}: {report.steps} steps, {report.examples_seen} examples in "
            f"{report.seconds:.0f}s; dev {dev_text}"
        )
        return rows

    # ---------------------------------------------------------------- phase 2
    def target(
        self, arm: ArmConfig, encoder_dir: Path | None, target: TargetConfig, seed: int, index: int
    ) -> list[ResultRow]:
        spec = self.registry.get(target.task)
        key = self.target_key(arm, target)
        folder = self.target_folder(arm, encoder_dir, target, seed)
        with self._claim(folder) as work:
            if work is None:  # finished by a concurrent run, which recorded its rows
                self.echo(f"[target] {arm.name} → {target.task} seed {seed}: done earlier")
                return [ResultRow(**r) for r in stages.read_summary(folder)["rows"]]
            run = self._retrieval_target if spec.format == "retrieval" else self._trained_target
            params = {"arm": arm.model_dump(), "target": target.model_dump(), "seed": seed,
                      "target_training": self.cfg.target_training.model_dump(), "model": self.cfg.model.model_dump()}  # fmt: skip
            with self._tracked(f"{arm.name}-{spec.name}-s{seed}", params) as tracker:
                rows, summary = run(spec, arm, encoder_dir, target, seed, index, key, work)
                tracker.log_rows(rows)
            summary |= {"arm": arm.name, "target": spec.name, "seed": seed, "rows": [asdict(r) for r in rows],
                        "encoder": str(encoder_dir) if encoder_dir else self.cfg.model.name,
                        "provenance": provenance()}  # fmt: skip
            self._commit(work, folder, summary)
        # a crash between the commit and this write loses nothing: collect() records every finished stage
        self._record(rows)
        return rows

    def target_folder(
        self, arm: ArmConfig, encoder_dir: Path | None, target: TargetConfig, seed: int
    ) -> Path:
        key = self.target_key(arm, target)
        return (
            self.run_dir
            / "targets"
            / arm.name
            / target.task
            / f"s{seed}-{stable_hash([key, seed, str(encoder_dir)])}"
        )

    def _row(
        self, arm: ArmConfig, spec: TaskSpec, lang: str, metric: str, seed: int, key: str, split: str, value
    ) -> ResultRow:
        return ResultRow(
            self.cfg.model.name,
            arm.name,
            spec.name,
            lang,
            metric,
            seed,
            key,
            split,
            value,
            self.cfg.name,
            "target",
        )

    def _trained_target(self, spec, arm, encoder_dir, target, seed, index, key, out: Path):
        loop, fs = loop_settings(spec, seed, self.cfg.target_training, target.training)
        pt = self._phase_task(
            spec, fs, target.train, target.dev, None, eval_examples(self.cfg.target_training, target.training),
            negative_window_cap(self.cfg.target_training, target.training),
        )  # fmt: skip
        spec = pt.spec
        model = self._new_model(encoder_dir, seed)
        self._add_head(model, spec.name, spec)
        report = self._train(
            model, {spec.name: pt}, loop, f"{arm.name} → {spec.name} s{seed}", out / "checkpoint"
        )
        languages = self.view.eval_languages(
            spec, target.eval_split, target.languages, target.gold_only, f"targets.{index}.languages"
        )
        rows, per_language = [], {}
        majority = majority_label(pt.train.examples) if spec.format == "classification" else None
        with bar(f"evaluate {arm.name} → {spec.name}", len(languages)) as progress:
            for lang in languages:
                per_language[lang] = self._evaluate_language(model, spec, fs, target, lang, majority, out)
                metrics = per_language[lang]["metrics"]
                rows += [
                    self._row(arm, spec, lang, m, seed, key, target.eval_split, v) for m, v in metrics.items()
                ]
                progress.update(1, info=lang)
        self.echo(
            f"[target] {arm.name} → {spec.name} seed {seed}: trained on {len(pt.train.examples)} ({pt.train.source}), "
            f"{report.steps} steps, best dev {spec.metric} {report.best_score or float('nan'):.1f}; "
            f"evaluated {len(languages)} languages"
        )
        summary = {"train": {"n": len(pt.train.examples), "source": pt.train.source},
                   "dev": {"n": len(pt.dev.examples), "source": pt.dev_source},
                   "report": asdict(report), "languages": per_language}  # fmt: skip
        return rows, summary

    def _eval_data(self, spec: TaskSpec, target: TargetConfig, lang: str) -> tuple[SplitData, SplitData]:
        """(full evaluation split, the part evaluated) of one language."""
        full = self.view.load(Ref(spec.name, target.eval_split, lang))
        return full, _head(full, target.max_eval_examples)

    def _evaluate_language(self, model, spec, fs, target, lang, majority, out: Path) -> dict:
        """Predict one language's evaluation split, write the submission file, score it when gold exists."""
        handler = get_format(spec.format)
        full, data = self._eval_data(spec, target, lang)
        preds = self._predict(model, spec, data, self._features(data, spec, fs), spec.name)
        suffix = "json" if spec.format == "span_qa" else "tsv"
        if self.is_main:
            handler.write_predictions(
                preds, data.examples, out / "predictions" / spec.name / f"{target.eval_split}-{lang}.{suffix}"
            )
        # A split without gold gets predictions and a "not computable" row, never a score against blanks.
        metrics = handler.score(preds, data.examples, spec, lang) if data.has_gold else {spec.metric: None}
        if data.has_gold and majority is not None:
            metrics[MAJORITY] = majority_accuracy(majority, data.examples)
        faults.point("evaluate")
        complete = len(data.examples) == len(full.examples)
        return {"n": len(data.examples), "complete": complete, "metrics": metrics, "source": data.source}

    def _retrieval_target(self, spec, arm, encoder_dir, target, seed, index, key, out: Path):
        from xstilts.retrieval.evaluate import (
            bucc_layer_sweep,
            evaluate_bucc,
            evaluate_tatoeba,
            tatoeba_layer_sweep,
        )

        if self.roots.xtreme is None:
            raise ConfigError(f"targets.{index}: {spec.name} reads local XTREME files; set data.xtreme_dir")
        encoder = self._new_model(encoder_dir, seed).encoder.to(self.accelerator.device)
        settings = self.cfg.retrieval.settings()
        evaluate, sweep = (
            (evaluate_bucc, bucc_layer_sweep)
            if spec.name == "bucc2018"
            else (evaluate_tatoeba, tatoeba_layer_sweep)
        )
        rows, per_language = [], {}
        limit = target.max_eval_examples  # a subset is easier than the full corpus: see retrieval/subset.py
        for lang in self.retrieval_languages(spec, target, index):
            result = evaluate(
                encoder, self.tokenizer, self.roots.xtreme, lang, settings, out / "predictions", limit=limit
            )
            split = result.get("split", "test")
            metrics = {m: result[m] for m in ("accuracy", "f1", "precision", "recall") if m in result}
            if (
                "dev_crossfit" in result
            ):  # BUCC on dev only: the threshold-honest number next to the in-sample one
                metrics["f1_crossfit"] = result["dev_crossfit"]["f1"]
            rows += [self._row(arm, spec, lang, m, seed, key, split, v) for m, v in metrics.items()]
            if self.cfg.retrieval.layer_sweep:
                result["layer_sweep"] = sweep(
                    encoder, self.tokenizer, self.roots.xtreme, lang, settings, self.cfg.retrieval.layer_sweep,
                    limit=limit,
                )  # fmt: skip
            # export.py copies a language's file as a test prediction only when this says the whole corpus
            # was searched (a limit at or above the corpus size is conservatively still a subset)
            per_language[lang] = {**result, "complete": limit is None}
        self.echo(f"[target] {arm.name} → {spec.name} seed {seed}: {len(per_language)} languages, "
                  f"layer {settings.record(encoder.config.num_hidden_layers)['layer']} ({settings.pooling} pooling)")  # fmt: skip
        return rows, {
            "languages": per_language,
            "retrieval": settings.record(encoder.config.num_hidden_layers),
        }

    def retrieval_languages(self, spec: TaskSpec, target: TargetConfig, index: int) -> list[str]:
        """Languages whose files exist (BUCC: dev, which tunes the threshold; Tatoeba: test)."""
        split = "dev" if spec.name == "bucc2018" else "test"
        assert spec.local is not None
        template = spec.local.files[split]
        have = [
            lg for lg in spec.languages if (self.roots.xtreme / f"{template.format(lang=lg)}.{lg}").exists()
        ]
        if target.languages == "all":
            if not have:
                raise ConfigError(f"targets.{index}: no {spec.name} files under {self.roots.xtreme}")
            return have
        missing = [lg for lg in target.languages if lg not in have]
        if missing:
            raise ConfigError(
                f"targets.{index}.languages: no {spec.name} data for {missing} under {self.roots.xtreme}"
            )
        return list(target.languages)

    # ---------------------------------------------------------------- driver
    def describe(self) -> list[str]:
        """What each stage will use (sizes, sources), resolved before any compute."""
        m = self.cfg.model
        lines = [f"model {m.name}" + (f", first {m.num_layers} layers" if m.num_layers else "")
                 + (", frozen word embeddings" if m.freeze_word_embeddings else "")
                 + (f", frozen embeddings + first {m.freeze_layers} layers" if m.freeze_layers else "") + f"; seeds {self.cfg.seeds}"]  # fmt: skip
        for arm in self.cfg.arms:
            if not arm.tasks:
                lines.append(f"arm {arm.name}: no intermediate training (baseline)")
            for name in arm.tasks:
                n_eval = eval_examples(self.cfg.intermediate, arm.training)
                spec, ref = self.task_data(name)
                over = (ref or DataRef()).model_copy(update={"max_examples": arm.max_train_examples})
                train, dev, dev_src = self.view.train_and_dev(spec, over, None, n_eval)
                lines.append(
                    f"arm {arm.name}: {name} train {len(train.examples)} ({train.source}), dev {len(dev.examples)} ({dev_src})"
                )
        for i, t in enumerate(self.cfg.targets):
            spec = self.registry.get(t.task)
            if spec.format == "retrieval":
                lines.append(
                    f"target {t.task}: no training; embed in {', '.join(self.retrieval_languages(spec, t, i))}"
                )
                continue
            n_eval = eval_examples(self.cfg.target_training, t.training)
            train, dev, dev_src = self.view.train_and_dev(spec, t.train, t.dev, n_eval)
            lines.append(
                f"target {t.task}: train {len(train.examples)} ({train.source}), dev {len(dev.examples)} ({dev_src})"
            )
            langs = self.view.eval_languages(
                spec, t.eval_split, t.languages, t.gold_only, f"targets.{i}.languages"
            )
            sizes = [
                len(_head(self.view.load(Ref(spec.name, t.eval_split, lg)), t.max_eval_examples).examples)
                for lg in langs
            ]
            lines.append(f"target {t.task}: evaluate {t.eval_split} in {len(langs)} languages: "
                         + " ".join(f"{lg}={n}" for lg, n in zip(langs, sizes, strict=True)))  # fmt: skip
        return lines

    def run(self, executor=None) -> list[ResultRow]:
        """Run every stage that is not done yet (through ``executor``, default: the config's), then collect."""
        from xstilts.grid.executors import make_executor
        from xstilts.grid.graph import build_graph, counts, waves

        for line in self.describe():
            self.echo(line)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        config = json.loads(self.cfg.model_dump_json())
        (self.run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        record_run(self.db_path, self.cfg.name, config, provenance())
        graph = build_graph(self)
        self.echo(
            "stages: " + "; ".join(f"{k} {c['total']} ({c['done']} done)" for k, c in counts(graph).items())
        )
        todo = [[s for s in wave if not s.done] for wave in waves(graph)]
        (executor or make_executor(self.cfg.executor)).run(self, [w for w in todo if w])
        return self.collect(graph)

    def collect(self, graph) -> list[ResultRow]:
        """Every finished stage's rows into the database (idempotent) and ``metrics.json``; target rows returned."""
        rows, missing = [], []
        for stage in graph:
            if stage.kind == "prepare":
                continue
            if not stage.done:
                missing.append(stage.id)
                continue
            stage_rows = [ResultRow(**r) for r in stages.read_summary(stage.folder)["rows"]]
            record_results(self.db_path, stage_rows)
            rows += stage_rows if stage.kind == "target" else []
        if missing:
            raise XstiltsError(
                f"{len(missing)} stages did not finish: {', '.join(missing[:5])}; re-run to resume"
            )
        (self.run_dir / "metrics.json").write_text(
            json.dumps([asdict(r) for r in rows], indent=1), encoding="utf-8"
        )
        return rows

    def portable_config_json(self) -> str:
        """The validated configuration for a process that may start elsewhere (another cwd, another node):
        absolute output and data locations."""
        data = self.cfg.data.model_copy(
            update={"xtreme_dir": self.roots.xtreme, "intermediate_dir": self.roots.intermediate}
        )
        return self.cfg.model_copy(
            update={"output_dir": self.cfg.output_dir.resolve(), "data": data}
        ).model_dump_json()

    def trains(self, stage) -> bool:
        """Whether a stage trains a model (intermediate, or a target that is not retrieval)."""
        if stage.kind == "intermediate":
            return True
        return stage.kind == "target" and self.registry.get(stage.info["target"]).format != "retrieval"

    def run_stage(self, stage) -> None:
        """Run one stage of this configuration's graph: a ``Stage`` or its id (``target:mnli:xnli:s1``).

        With ``executor.processes_per_stage > 1`` a training stage runs under ``accelerate launch`` (DDP); every
        process of the launch comes back here and runs its share."""
        if isinstance(stage, str):
            from xstilts.grid.graph import build_graph

            by_id = {s.id: s for s in build_graph(self)}
            if stage not in by_id:
                raise ValueError(f"no stage {stage!r} in the graph of {self.cfg.name!r}")
            stage = by_id[stage]
        processes = self.cfg.executor.processes_per_stage
        if processes > 1 and self.accelerator.num_processes == 1 and self.trains(stage) and not stage.done:
            from xstilts.grid.launch import launch_stage

            launch_stage(self, stage.id, processes)
            return
        info = stage.info
        if stage.kind == "prepare":
            self.prepare(info["task"])
            return
        arm = next(a for a in self.cfg.arms if a.name == info["arm"])
        if stage.kind == "intermediate":
            self.intermediate(arm, info["seed"])
        else:
            index = next(i for i, t in enumerate(self.cfg.targets) if t.task == info["target"])
            self.target(
                arm, self.encoder_dir(arm, info["seed"]), self.cfg.targets[index], info["seed"], index
            )


def check_config(cfg: RunConfig, registry: TaskRegistry | None = None) -> None:
    """Unknown tasks and languages fail before any compute, naming the config field."""
    from xstilts.training.samplers import SAMPLERS

    registry = registry or get_registry(tuple(str(p) for p in cfg.data.task_dirs))
    for field in ("xtreme_dir", "intermediate_dir"):
        folder = getattr(cfg.data, field)
        if folder is not None and not folder.is_dir():
            raise ConfigError(f"data.{field}: {folder} is not a folder")
    for i, arm in enumerate(cfg.arms):
        if arm.sampler not in SAMPLERS:
            raise ConfigError(f"arms.{i}.sampler: {_unknown(arm.sampler, list(SAMPLERS), 'sampler')}")
        for j, task in enumerate(arm.tasks):
            try:
                spec, _ = registry.resolve_variant(task)
            except UnknownNameError as exc:
                if "language" in str(exc):
                    raise ConfigError(f"arms.{i}.tasks.{j}: {exc}") from exc
                raise ConfigError(
                    f"arms.{i}.tasks.{j}: {_unknown(task, registry.names() + list(mixtures()))}"
                ) from exc
            if spec.format == "retrieval":
                raise ConfigError(
                    f"arms.{i}.tasks.{j}: {task!r} is a retrieval task and cannot be trained on"
                )
    for i, target in enumerate(cfg.targets):
        if target.task not in registry:
            raise ConfigError(f"targets.{i}.task: {_unknown(target.task, registry.names())}")
        spec = registry.get(target.task)
        if target.languages != "all":
            bad = [lg for lg in target.languages if lg not in spec.languages]
            if bad:
                raise ConfigError(
                    f"targets.{i}.languages: {bad} not among the languages of {spec.name!r}: {list(spec.languages)}"
                )
        for key in ("train", "dev"):
            ref = getattr(target, key)
            if ref.task and ref.task not in registry:
                raise ConfigError(f"targets.{i}.{key}.task: {_unknown(ref.task, registry.names())}")
    check_backends(cfg.tracking.backends)


def expand_mixtures(cfg: RunConfig) -> RunConfig:
    """Arms naming a mixture (``general-all``) get its member tasks, before any key is hashed."""
    arms = [a.model_copy(update={"tasks": expand(a.tasks)}) for a in cfg.arms]
    return cfg.model_copy(update={"arms": arms})


def _unknown(name: str, known: list[str], what: str = "task") -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=3)
    return f"unknown {what} {name!r}" + (f"; did you mean {', '.join(map(repr, close))}?" if close else "")


def provenance() -> dict:
    """Package versions and git revision recorded with every run."""
    import platform
    import subprocess

    import accelerate
    import transformers

    import xstilts

    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(xstilts.__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        rev = None
    return {
        "xstilts": xstilts.__version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "accelerate": accelerate.__version__,
        "python": platform.python_version(),
        "git_revision": rev,
        "created": time.time(),
    }


def _accelerator(mixed_precision: str) -> Accelerator:
    """This process's accelerator. Inside ``accelerate launch`` on a machine without GPUs, the processes form a
    CPU (gloo) group — accelerate only does that when told ``cpu=True``. Several task heads share one encoder
    and a step trains one of them, so DDP must expect parameters without gradients."""
    cpu = "LOCAL_RANK" in os.environ and not torch.cuda.is_available()
    ddp = DistributedDataParallelKwargs(find_unused_parameters=True)
    return Accelerator(mixed_precision=mixed_precision, cpu=cpu, kwargs_handlers=[ddp])
