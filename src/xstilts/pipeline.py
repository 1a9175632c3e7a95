"""The X-STILTs recipe for one run configuration:

pretrained encoder → intermediate training per arm (encoder kept, heads dropped) → a fresh head fine-tuned on
each target task's English data → zero-shot evaluation in every language → results database.

Each (arm, seed) intermediate checkpoint is trained once and reused by every target; every stage lives in a
hashed folder with a DONE marker, so re-running a configuration only does what is missing.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import yaml
from accelerate import Accelerator
from accelerate.utils import set_seed

from xstilts import stages
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
from xstilts.errors import ConfigError
from xstilts.evaluation.predict import predict_logits
from xstilts.features import featurize, tokenizer_fingerprint
from xstilts.formats import get_format
from xstilts.formats.base import FeatureSettings
from xstilts.metrics.official import main_score
from xstilts.models.loading import ModelSpec, load_encoder, load_tokenizer
from xstilts.models.task_model import MultiTaskModel, save_encoder
from xstilts.paths import default_intermediate_dir, default_xtreme_dir
from xstilts.results.db import ResultRow, record_results, record_run
from xstilts.tasks.registry import get_registry
from xstilts.tasks.spec import TaskSpec
from xstilts.training.loop import LoopSettings, TaskStream, train

log = logging.getLogger("xstilts")


@dataclass
class PhaseTask:
    """One task inside a training phase: its data, features and format handler."""

    spec: TaskSpec
    train: SplitData
    dev: SplitData
    dev_source: str
    features: FeatureSettings
    train_features: dict
    dev_features: dict


class Pipeline:
    def __init__(self, cfg: RunConfig, echo=print):
        self.cfg = cfg
        self.echo = echo
        self.registry = get_registry(tuple(str(p) for p in cfg.data.task_dirs))
        self.roots = DataRoots(
            cfg.data.xtreme_dir or default_xtreme_dir(),
            cfg.data.intermediate_dir or default_intermediate_dir(),
        )
        self.view = DataView(self.registry, self.roots, cfg.data.source)
        check_config(cfg, self.registry)
        self.run_dir = cfg.run_dir
        self.db_path = self.run_dir / "results.sqlite"
        self.accelerator = Accelerator(mixed_precision=cfg.mixed_precision)
        self.base_model = ModelSpec(
            cfg.model.name, cfg.model.num_layers, cfg.model.freeze_word_embeddings, cfg.model.revision
        )
        self.tokenizer = load_tokenizer(cfg.model.name)
        self.tok_fp = tokenizer_fingerprint(self.tokenizer)
        self.timings: dict[str, float] = {}

    # ------------------------------------------------------------------ settings
    def _loop_settings(
        self, spec: TaskSpec, seed: int, *layers: TrainingConfig
    ) -> tuple[LoopSettings, FeatureSettings]:
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
        per_device = min(t.per_device_batch_size, t.batch_size)
        loop = LoopSettings(
            learning_rate=t.learning_rate,
            batch_size=t.batch_size,
            per_device_batch_size=per_device,
            epochs=t.epochs,
            max_steps=t.max_steps,
            warmup_ratio=t.warmup_ratio,
            weight_decay=t.weight_decay,
            max_grad_norm=t.max_grad_norm,
            eval_every=t.eval_every,
            patience=t.patience,
            seed=seed,
        )
        features = FeatureSettings(max_seq_length=t.max_seq_length, long_input=spec.long_input)
        return loop, features

    def _eval_examples(self, *layers: TrainingConfig) -> int:
        return DEFAULT_TRAINING.merged(*layers).eval_examples

    # ------------------------------------------------------------------ data
    def _features(self, data: SplitData, spec: TaskSpec, fs: FeatureSettings) -> dict:
        t0 = time.perf_counter()
        feats, hit = featurize(data, spec, self.tokenizer, fs)
        self.timings["tokenise"] = self.timings.get("tokenise", 0.0) + time.perf_counter() - t0
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
        self,
        spec: TaskSpec,
        fs: FeatureSettings,
        train_ref,
        dev_ref,
        max_train: int | None,
        eval_examples: int,
    ) -> PhaseTask:
        train_override = (train_ref or DataRef()).model_copy(
            update={"max_examples": max_train or (train_ref.max_examples if train_ref else None)}
        )
        train_data, dev_data, dev_source = self.view.train_and_dev(
            spec, train_override, dev_ref, eval_examples
        )
        return PhaseTask(
            spec, train_data, dev_data, dev_source, fs,
            self._features(train_data, spec, fs), self._features(dev_data, spec, fs),
        )  # fmt: skip

    # ------------------------------------------------------------------ evaluation
    def _predict(
        self, model: MultiTaskModel, spec: TaskSpec, data: SplitData, feats: dict, head: str
    ) -> list:
        handler = get_format(spec.format)
        logits = predict_logits(
            model, head, handler, feats, self.tokenizer.pad_token_id, self.accelerator.device,
            autocast=self.accelerator.autocast,
        )  # fmt: skip
        return handler.decode(logits, feats, data.examples, spec)

    def _dev_score(self, model: MultiTaskModel, tasks: dict[str, PhaseTask]) -> tuple[float, dict]:
        per_task = {}
        for name, pt in tasks.items():
            handler = get_format(pt.spec.format)
            preds = self._predict(model, pt.spec, pt.dev, pt.dev_features, name)
            per_task[name] = handler.score(preds, pt.dev.examples, pt.spec, pt.dev.language)
        mean = sum(main_score(tasks[n].spec.metric, m) for n, m in per_task.items()) / len(per_task)
        return mean, per_task

    # ------------------------------------------------------------------ phases
    def _new_model(self, encoder_dir: Path | None, seed: int) -> MultiTaskModel:
        set_seed(seed)
        if encoder_dir is None:
            return MultiTaskModel(load_encoder(self.base_model, seed))
        # An intermediate checkpoint is already cut to num_layers; freezing must be re-applied.
        spec = ModelSpec(str(encoder_dir), None, self.cfg.model.freeze_word_embeddings)
        return MultiTaskModel(load_encoder(spec, seed))

    def _add_head(self, model: MultiTaskModel, name: str, spec: TaskSpec) -> None:
        hidden = model.encoder.config.hidden_size
        head = get_format(spec.format).build_head(
            hidden, spec, self.cfg.model.head_dropout, self.cfg.model.head_pooling
        )
        model.add_head(name, head)

    def _train(self, model: MultiTaskModel, tasks: dict[str, PhaseTask], loop: LoopSettings, label: str):
        streams = {
            name: TaskStream(
                name,
                get_format(pt.spec.format),
                pt.train_features,
                self.tokenizer.pad_token_id,
                loop.per_device_batch_size,
                loop.seed,
                self.accelerator.process_index,
                self.accelerator.num_processes,
            )  # fmt: skip
            for name, pt in tasks.items()
        }
        t0 = time.perf_counter()
        report = train(model, streams, loop, self.accelerator, lambda m: self._dev_score(m, tasks)[0], label)
        self.timings["train"] = self.timings.get("train", 0.0) + time.perf_counter() - t0
        return report

    def arm_key(self, arm: ArmConfig, seed: int) -> str:
        return stable_hash(
            {
                "model": self.base_model.key(),
                "pool": self.cfg.model.head_pooling,
                "arm": arm.model_dump(),
                "defaults": self.cfg.intermediate.model_dump(),
                "seed": seed,
                "tok": self.tok_fp,
            }
        )

    def intermediate(self, arm: ArmConfig, seed: int) -> Path | None:
        """Train the arm's intermediate task(s); returns the encoder folder (None for the baseline)."""
        if not arm.tasks:
            return None
        folder = self.run_dir / "intermediate" / f"{arm.name}-s{seed}-{self.arm_key(arm, seed)}"
        if stages.is_done(folder):
            self.echo(f"[intermediate] {arm.name} seed {seed}: done earlier ({folder})")
            return folder / "encoder"
        first = self.registry.get(arm.tasks[0])
        loop, _ = self._loop_settings(first, seed, self.cfg.intermediate, arm.training)
        loop.sampler, loop.sampler_options, loop.examples_cap = (
            arm.sampler,
            arm.sampler_options,
            arm.examples_cap,
        )
        eval_examples = self._eval_examples(self.cfg.intermediate, arm.training)
        tasks: dict[str, PhaseTask] = {}
        for name in arm.tasks:
            spec = self.registry.get(name)
            _, fs = self._loop_settings(spec, seed, self.cfg.intermediate, arm.training)
            tasks[name] = self._phase_task(spec, fs, None, None, arm.max_train_examples, eval_examples)
        model = self._new_model(None, seed)
        for name, pt in tasks.items():
            self._add_head(model, name, pt.spec)
        report = self._train(model, tasks, loop, f"intermediate {arm.name} s{seed}")
        _, dev_metrics = self._dev_score(model, tasks)
        tmp = stages.begin(folder)
        save_encoder(model.encoder, tmp / "encoder")
        self.tokenizer.save_pretrained(tmp / "encoder")
        rows = [
            ResultRow(self.cfg.model.name, arm.name, name, "en", metric, seed, self.arm_key(arm, seed), "intermediate-dev", value, self.cfg.name, "intermediate")
            for name, metrics in dev_metrics.items()
            for metric, value in metrics.items()
        ]  # fmt: skip
        summary = {
            "arm": arm.name, "seed": seed, "report": asdict(report), "dev_metrics": dev_metrics,
            "data": {n: {"train": len(pt.train.examples), "train_source": pt.train.source, "dev": len(pt.dev.examples), "dev_source": pt.dev_source} for n, pt in tasks.items()},
            "rows": [asdict(r) for r in rows],
        }  # fmt: skip
        stages.commit(tmp, folder, summary)
        record_results(self.db_path, rows)
        dev_text = ", ".join(f"{n} {main_score(tasks[n].spec.metric, m):.1f}" for n, m in dev_metrics.items())
        self.echo(
            f"[intermediate] {arm.name} seed {seed}: {report.steps} steps, {report.examples_seen} examples in "
            f"{report.seconds:.0f}s; dev {dev_text}"
        )
        return folder / "encoder"

    def target(
        self, arm: ArmConfig, encoder_dir: Path | None, target: TargetConfig, seed: int, index: int
    ) -> list[ResultRow]:
        spec = self.registry.get(target.task)
        settings_key = stable_hash(
            {
                "arm": self.arm_key(arm, 0) if arm.tasks else "baseline",
                "target": target.model_dump(),
                "defaults": self.cfg.target_training.model_dump(),
                "model": self.base_model.key(),
                "pool": self.cfg.model.head_pooling,
                "tok": self.tok_fp,
            }
        )
        folder = (
            self.run_dir
            / "targets"
            / arm.name
            / target.task
            / f"s{seed}-{stable_hash([settings_key, seed, str(encoder_dir)])}"
        )
        if stages.is_done(folder):
            rows = [ResultRow(**r) for r in stages.read_summary(folder)["rows"]]
            record_results(
                self.db_path, rows
            )  # idempotent: makes sure a crash between commit and write lost nothing
            self.echo(f"[target] {arm.name} → {target.task} seed {seed}: done earlier")
            return rows
        if spec.format == "retrieval":
            raise ConfigError(
                f"targets.{index}.task: retrieval target {spec.name!r} is not supported by this pipeline yet"
            )
        loop, fs = self._loop_settings(spec, seed, self.cfg.target_training, target.training)
        eval_examples = self._eval_examples(self.cfg.target_training, target.training)
        pt = self._phase_task(spec, fs, target.train, target.dev, None, eval_examples)
        model = self._new_model(encoder_dir, seed)
        self._add_head(model, spec.name, spec)
        report = self._train(model, {spec.name: pt}, loop, f"{arm.name} → {spec.name} s{seed}")

        handler = get_format(spec.format)
        tmp = stages.begin(folder)
        rows: list[ResultRow] = []
        per_language: dict[str, dict] = {}
        t0 = time.perf_counter()
        languages = self.view.eval_languages(
            spec, target.eval_split, target.languages, target.gold_only, f"targets.{index}.languages"
        )
        for lang in languages:
            data = self.view.load(Ref(spec.name, target.eval_split, lang))
            if target.max_eval_examples and len(data.examples) > target.max_eval_examples:
                from dataclasses import replace

                data = replace(
                    data,
                    examples=data.examples[: target.max_eval_examples],
                    checksum=f"{data.checksum}[:{target.max_eval_examples}]",
                )
            feats = self._features(data, spec, fs)
            preds = self._predict(model, spec, data, feats, spec.name)
            handler.write_predictions(
                preds,
                data.examples,
                tmp
                / "predictions"
                / spec.name
                / f"{target.eval_split}-{lang}.{'json' if spec.format == 'span_qa' else 'tsv'}",
            )
            metrics = (
                handler.score(preds, data.examples, spec, lang) if data.has_gold else {spec.metric: None}
            )
            per_language[lang] = {"n": len(data.examples), "metrics": metrics, "source": data.source}
            rows += [
                ResultRow(self.cfg.model.name, arm.name, spec.name, lang, m, seed, settings_key, target.eval_split, v, self.cfg.name, "target")
                for m, v in metrics.items()
            ]  # fmt: skip
        self.timings["evaluate"] = self.timings.get("evaluate", 0.0) + time.perf_counter() - t0
        summary = {
            "arm": arm.name, "target": spec.name, "seed": seed, "encoder": str(encoder_dir) if encoder_dir else self.cfg.model.name,
            "train": {"n": len(pt.train.examples), "source": pt.train.source}, "dev": {"n": len(pt.dev.examples), "source": pt.dev_source},
            "report": asdict(report), "languages": per_language, "rows": [asdict(r) for r in rows],
        }  # fmt: skip
        stages.commit(tmp, folder, summary)
        record_results(self.db_path, rows)
        self.echo(
            f"[target] {arm.name} → {spec.name} seed {seed}: trained on {len(pt.train.examples)} ({pt.train.source.split('/')[-1]}), "
            f"{report.steps} steps, best dev {report.best_score if report.best_score is not None else float('nan'):.1f}; "
            f"evaluated {len(languages)} languages"
        )
        return rows

    # ------------------------------------------------------------------ driver
    def describe(self) -> list[str]:
        """The data each stage will use (sizes, sources), resolved before any compute."""
        lines = [f"model {self.cfg.model.name}" + (f", first {self.cfg.model.num_layers} layers" if self.cfg.model.num_layers else "")
                 + (", frozen word embeddings" if self.cfg.model.freeze_word_embeddings else "")
                 + f"; seeds {self.cfg.seeds}"]  # fmt: skip
        for arm in self.cfg.arms:
            if not arm.tasks:
                lines.append(f"arm {arm.name}: no intermediate training (baseline)")
            for name in arm.tasks:
                spec = self.registry.get(name)
                over = DataRef(max_examples=arm.max_train_examples) if arm.max_train_examples else None
                train, dev, dev_src = self.view.train_and_dev(
                    spec, over, None, self._eval_examples(self.cfg.intermediate, arm.training)
                )
                lines.append(
                    f"arm {arm.name}: {name} train {len(train.examples)} ({train.source}), dev {len(dev.examples)} ({dev_src})"
                )
        for i, t in enumerate(self.cfg.targets):
            spec = self.registry.get(t.task)
            if spec.format != "retrieval":
                train, dev, dev_src = self.view.train_and_dev(
                    spec, t.train, t.dev, self._eval_examples(self.cfg.target_training, t.training)
                )
                lines.append(
                    f"target {t.task}: train {len(train.examples)} ({train.source}), dev {len(dev.examples)} ({dev_src})"
                )
            langs = self.view.eval_languages(
                spec, t.eval_split, t.languages, t.gold_only, f"targets.{i}.languages"
            )
            sizes = [
                min(
                    len(self.view.load(Ref(spec.name, t.eval_split, lg)).examples),
                    t.max_eval_examples or 10**9,
                )
                for lg in langs
            ]
            lines.append(
                f"target {t.task}: evaluate {t.eval_split} in {len(langs)} languages: "
                + " ".join(f"{lg}={n}" for lg, n in zip(langs, sizes, strict=True))
            )
        return lines

    def run(self) -> list[ResultRow]:
        for line in self.describe():
            self.echo(line)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "config.yaml").write_text(
            yaml.safe_dump(json.loads(self.cfg.model_dump_json()), sort_keys=False), encoding="utf-8"
        )
        record_run(self.db_path, self.cfg.name, json.loads(self.cfg.model_dump_json()), provenance())
        rows: list[ResultRow] = []
        for seed in self.cfg.seeds:
            for arm in self.cfg.arms:
                encoder_dir = self.intermediate(arm, seed)
                for i, target in enumerate(self.cfg.targets):
                    rows += self.target(arm, encoder_dir, target, seed, i)
        (self.run_dir / "metrics.json").write_text(
            json.dumps([asdict(r) for r in rows], indent=1, default=str), encoding="utf-8"
        )
        return rows


def check_config(cfg: RunConfig, registry=None) -> None:
    """Unknown tasks and languages fail before any compute, naming the config field."""
    registry = registry or get_registry(tuple(str(p) for p in cfg.data.task_dirs))
    for i, arm in enumerate(cfg.arms):
        for j, task in enumerate(arm.tasks):
            if task not in registry:
                raise ConfigError(f"arms.{i}.tasks.{j}: {_unknown(task, registry.names())}")
            if registry.get(task).format == "retrieval":
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


def _unknown(name: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=3)
    return f"unknown task {name!r}" + (f"; did you mean {', '.join(map(repr, close))}?" if close else "")


def provenance() -> dict:
    """Package versions and git revision recorded with every run."""
    import platform
    import subprocess

    import accelerate
    import transformers

    import xstilts

    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
            cwd=Path(xstilts.__file__).parent,
        ).stdout.strip()  # fmt: skip
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
