"""Training throughput of the xstilts loop against ``transformers.Trainer``, measured in the same process on the
same model (embedded e5-small, first N layers, frozen word embeddings), data (XNLI-style sentence pairs from the
sample) and hyper-parameters (lr, batch, warm-up, clipping, steps, seed).

Trainer (a) pads every example to max_seq_length, as the example script ``run_xnli.py`` does by default;
Trainer (b) uses its best settings: dynamic padding and ``group_by_length``.

    python bench/train_throughput.py [--steps 40] [--layers 6] [--batch 16] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch
from accelerate import Accelerator
from torch import nn

from xstilts.data.loading import DataRoots, load_split
from xstilts.formats import get_format
from xstilts.formats.base import FeatureSettings
from xstilts.models.loading import ModelSpec, load_encoder, load_tokenizer
from xstilts.models.task_model import MultiTaskModel
from xstilts.paths import default_intermediate_dir, default_xtreme_dir
from xstilts.tasks import get_registry
from xstilts.training.loop import LoopSettings, TaskStream, train


def xnli_style_features(tokenizer, max_len: int) -> tuple[dict, object]:
    """MNLI sample + XNLI English dev: real premise/hypothesis pairs with their natural length spread."""
    reg = get_registry()
    roots = DataRoots(default_xtreme_dir(), default_intermediate_dir())
    spec = reg.get("xnli")
    examples = load_split(reg.get("mnli"), "train", "en", roots).examples
    examples += load_split(spec, "dev", "en", roots).examples
    feats = get_format("classification").featurize(
        examples, tokenizer, spec, FeatureSettings(max_seq_length=max_len)
    )
    return feats, spec


def build_model(layers: int, spec, seed: int) -> MultiTaskModel:
    torch.manual_seed(seed)
    model = MultiTaskModel(load_encoder(ModelSpec("e5-small", layers, freeze_word_embeddings=True), seed))
    model.add_head(
        "xnli", get_format("classification").build_head(model.encoder.config.hidden_size, spec, 0.1, "cls")
    )
    return model


class TrainerAdapter(nn.Module):
    """The very same model behind the (input_ids, attention_mask, labels) -> loss interface Trainer expects."""

    def __init__(self, model: MultiTaskModel):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, labels=None):
        logits = self.model("xnli", {"input_ids": input_ids, "attention_mask": attention_mask})
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return {"loss": loss, "logits": logits}


def run_xstilts(feats, spec, args) -> dict:
    model = build_model(args.layers, spec, args.seed)
    stream = TaskStream("xnli", get_format("classification"), feats, 1, args.batch, args.seed)
    settings = LoopSettings(
        learning_rate=2e-5,
        batch_size=args.batch,
        per_device_batch_size=args.batch,
        max_steps=args.steps,
        seed=args.seed,
    )
    report = train(model, {"xnli": stream}, settings, Accelerator(cpu=True))
    return {"seconds": report.seconds, "examples": report.examples_seen, "tokens": report.tokens_seen}


def run_trainer(feats, spec, args, pad_to_max: bool) -> dict:
    import datasets
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    tokenizer = load_tokenizer("e5-small")
    ds = datasets.Dataset.from_dict({"input_ids": feats["input_ids"], "labels": feats["labels"]})
    ds = ds.map(lambda r: {"attention_mask": [1] * len(r["input_ids"]), "length": len(r["input_ids"])})
    if pad_to_max:
        ds = ds.map(lambda r: tokenizer.pad(r, padding="max_length", max_length=args.max_len))
    seen = {"examples": 0, "tokens": 0}

    collator = DataCollatorWithPadding(tokenizer)

    def counting_collator(rows):
        seen["examples"] += len(rows)
        seen["tokens"] += sum(sum(r["attention_mask"]) for r in rows)
        return collator([{k: r[k] for k in ("input_ids", "attention_mask", "labels")} for r in rows])

    targs = TrainingArguments(
        output_dir=str(Path(args.tmp) / "trainer"),
        per_device_train_batch_size=args.batch,
        learning_rate=2e-5,
        warmup_ratio=0.1,
        max_grad_norm=1.0,
        weight_decay=0.0,
        max_steps=args.steps,
        seed=args.seed,
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        remove_unused_columns=False,
        train_sampling_strategy="random" if pad_to_max else "group_by_length",
        dataloader_num_workers=0,
    )
    model = TrainerAdapter(build_model(args.layers, spec, args.seed))
    trainer = Trainer(model=model, args=targs, train_dataset=ds, data_collator=counting_collator)
    t0 = time.perf_counter()
    trainer.train()
    return {"seconds": time.perf_counter() - t0, **seen}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--max-len", type=int, default=128)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--tmp", default="/tmp/xstilts-bench")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    os.environ.setdefault("XSTILTS_QUIET", "1")
    tokenizer = load_tokenizer("e5-small")
    feats, spec = xnli_style_features(tokenizer, args.max_len)
    # Warm-up (thread pools, allocator, first-call overheads) so no contender pays it alone.
    run_xstilts(feats, spec, argparse.Namespace(**{**vars(args), "steps": 2}))
    results = {
        "xstilts": run_xstilts(feats, spec, args),
        "trainer_pad_max": run_trainer(feats, spec, args, pad_to_max=True),
        "trainer_dynamic_grouped": run_trainer(feats, spec, args, pad_to_max=False),
    }
    for r in results.values():
        r["examples_per_s"] = r["examples"] / r["seconds"]
        r["tokens_per_s"] = r["tokens"] / r["seconds"]
    base = results["xstilts"]["examples_per_s"]
    print(f"{'runner':26s} {'examples/s':>11s} {'non-pad tok/s':>14s} {'xstilts ×':>10s}")
    for name, r in results.items():
        print(
            f"{name:26s} {r['examples_per_s']:11.1f} {r['tokens_per_s']:14.0f} {base / r['examples_per_s']:10.2f}"
        )
    if args.json:
        args.json.write_text(
            json.dumps({"settings": vars(args) | {"json": str(args.json)}, "results": results}, indent=2)
        )


if __name__ == "__main__":
    main()
