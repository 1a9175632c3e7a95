"""Training throughput of the xstilts loop against ``transformers.Trainer``, measured in the same process on the
same model (embedded e5-small, first N layers, frozen word embeddings), data and hyper-parameters (lr, batch,
warm-up, clipping, steps, seed), for three realistic length distributions:

* ``xnli``: XNLI-style sentence pairs (MNLI sample + XNLI English dev), classification, max length 128;
* ``squad``: SQuAD-style QA windows (``squad_v1`` sample, the English training data of XQuAD), span QA,
  max length 384, doc stride 128;
* ``panx``: PAN-X English sentences, tagging, max length 128.

Trainer (a) pads every row to the max length, as the example scripts (``run_xnli.py``, ``run_qa.py``,
XTREME's ``run_tag.py``) do by default; Trainer (b) uses its best settings: dynamic padding and
``group_by_length``. Both get the very same model, head and loss (the format's own) behind Trainer's
keyword interface. Each side is timed around its whole training call (optimizer and loader set-up included,
model construction excluded); Trainer's rows and tokens are counted from the batches its steps consumed
(its data loader fetches one batch ahead).

On ``xnli`` and ``panx`` (``--what-if``) a fourth contender runs the xstilts loop with its optimizer patched,
inside this process only, to torch's multi-tensor ``foreach`` AdamW instead of the fused kernel the loop uses
(an earlier what-if here showed fused AdamW to be faster on CPU, and the loop adopted it): it measures what
the fused kernel buys. It matters most where steps are short (PAN-X: ~15 tokens a row), since the optimizer's
cost per step is fixed.

The contenders run in ``--rounds`` interleaved rounds (order rotated each round) and each keeps its best
round, so a burst of other work on the machine does not decide the ratio. Figures: examples/s (feature rows:
QA windows, tagging sentence windows), non-pad tokens/s, and xstilts ÷ Trainer.

    python bench/train_throughput.py [--steps 24] [--rounds 2] [--layers 6] [--batch 16] [--quick] [--json out.json]
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import torch
from accelerate import Accelerator
from common import data_roots, emit, encoder_name, figure, parser, quiet, target
from torch import nn

from xstilts.data.loading import load_split
from xstilts.formats import get_format
from xstilts.formats.base import FeatureSettings
from xstilts.models.loading import ModelSpec, load_encoder, load_tokenizer
from xstilts.models.task_model import MultiTaskModel
from xstilts.tasks import get_registry
from xstilts.training import loop as loop_module
from xstilts.training.loop import LoopSettings, TaskStream, train

LOOP_OPTIMIZER = loop_module._optimizer
ENCODER = {"name": "e5-small"}  # main() sets it from the arguments

# name -> (head task, [(task, split) sources], max length)
DISTRIBUTIONS = {
    "xnli": ("xnli", [("mnli", "train"), ("xnli", "dev")], 128),
    "squad": ("squad_v1", [("squad_v1", "train")], 384),
    "panx": ("panx", [("panx", "train")], 128),
}
TARGET_COLUMNS = {"classification": ("labels",), "span_qa": ("start_positions", "end_positions"), "tagging": ("labels",)}  # fmt: skip


def load_features(name: str, tokenizer, limit: int | None = None) -> tuple[dict, object]:
    reg = get_registry()
    task, sources, max_len = DISTRIBUTIONS[name]
    spec = reg.get(task)
    examples = []
    for source, split in sources:
        examples += load_split(reg.get(source), split, "en", data_roots()).examples[:limit]
    settings = FeatureSettings(max_seq_length=max_len, doc_stride=128)
    return get_format(spec.format).featurize(examples, tokenizer, spec, settings), spec


@functools.cache
def tokenizer_once():
    """Loaded once (seconds each time): the Trainer contenders' collators need it too."""
    return load_tokenizer("e5-small")


def build_model(layers: int, spec, seed: int) -> MultiTaskModel:
    torch.manual_seed(seed)
    model = MultiTaskModel(load_encoder(ModelSpec(ENCODER["name"], layers, freeze_word_embeddings=True), seed))
    hidden = model.encoder.config.hidden_size
    model.add_head(spec.name, get_format(spec.format).build_head(hidden, spec, 0.1, "cls"))
    return model


class TrainerAdapter(nn.Module):
    """The very same model and loss behind the keyword interface Trainer expects (no ``**kwargs``, so Trainer
    does not pass extra loss arguments)."""

    def __init__(self, model: MultiTaskModel, spec):
        super().__init__()
        self.model, self.task, self.handler = model, spec.name, get_format(spec.format)

    def forward(self, input_ids, attention_mask, labels=None, start_positions=None, end_positions=None):
        batch = {"input_ids": input_ids, "attention_mask": attention_mask}
        extra = {"labels": labels, "start_positions": start_positions, "end_positions": end_positions}
        batch |= {k: v for k, v in extra.items() if v is not None}
        logits = self.model(self.task, batch)
        return {"loss": self.handler.loss(logits, batch), "logits": logits}


def foreach_adamw(*args, **kwargs):
    """The loop's optimizer (same groups, rates, decay; called as the loop calls it) on the multi-tensor
    ``foreach`` path instead of the fused kernel: the what-if contender."""
    loop_optimizer = LOOP_OPTIMIZER(*args, **kwargs)
    groups = [{k: g[k] for k in ("params", "lr", "weight_decay")} for g in loop_optimizer.param_groups]
    d = loop_optimizer.defaults
    return torch.optim.AdamW(groups, lr=d["lr"], betas=d["betas"], eps=d["eps"], foreach=True)


def run_xstilts(feats, spec, args, steps: int, pad_id: int, foreach: bool = False) -> dict:
    if foreach:
        loop_module._optimizer = foreach_adamw
    try:
        return _run_xstilts(feats, spec, args, steps, pad_id)
    finally:
        loop_module._optimizer = LOOP_OPTIMIZER


def _run_xstilts(feats, spec, args, steps: int, pad_id: int) -> dict:
    model = build_model(args.layers, spec, args.seed)
    stream = TaskStream(spec.name, get_format(spec.format), feats, pad_id, args.batch, args.seed)
    settings = LoopSettings(
        learning_rate=2e-5, batch_size=args.batch, per_device_batch_size=args.batch, max_steps=steps, seed=args.seed
    )  # fmt: skip
    # Timed around the call, like trainer.train(): both sides include their optimizer and loader set-up.
    t0 = time.perf_counter()
    report = train(model, {spec.name: stream}, settings, Accelerator(cpu=True))
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "examples": report.examples_seen, "tokens": report.tokens_seen}


def run_trainer(feats, spec, args, steps: int, max_len: int, pad_to_max: bool) -> dict:
    """``pad_to_max``: rows padded once up front and stacked by ``default_data_collator`` (the example scripts'
    ``pad_to_max_length``); otherwise the format's ``transformers`` collator pads each batch."""
    import datasets
    from transformers import (
        DataCollatorForTokenClassification,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        default_data_collator,
    )

    tokenizer = tokenizer_once()
    targets = TARGET_COLUMNS[spec.format]
    ds = datasets.Dataset.from_dict({"input_ids": feats["input_ids"], **{t: feats[t] for t in targets}})
    ds = ds.map(lambda r: {"attention_mask": [1] * len(r["input_ids"]), "length": len(r["input_ids"])})
    if pad_to_max:

        def pad(r):
            gap = max_len - len(r["input_ids"])
            out = {"input_ids": r["input_ids"] + [tokenizer.pad_token_id] * gap, "attention_mask": r["attention_mask"] + [0] * gap}  # fmt: skip
            if spec.format == "tagging":
                out["labels"] = r["labels"] + [-100] * gap
            return out

        ds = ds.map(pad)
        collator = default_data_collator
    elif spec.format == "tagging":
        collator = DataCollatorForTokenClassification(tokenizer)
    else:
        collator = DataCollatorWithPadding(tokenizer)
    batches: list[tuple[int, int]] = []  # (rows, non-pad tokens) of every collated batch
    keep = ("input_ids", "attention_mask", *targets)

    def counting_collator(rows):
        batches.append((len(rows), sum(sum(r["attention_mask"]) for r in rows)))
        return collator([{k: r[k] for k in keep} for r in rows])

    targs = TrainingArguments(
        output_dir=str(Path(args.tmp) / "trainer"),
        per_device_train_batch_size=args.batch,
        learning_rate=2e-5,
        warmup_steps=0.1,  # transformers 5: a float in [0, 1) is a ratio of the total steps
        max_grad_norm=1.0,
        weight_decay=0.0,
        max_steps=steps,
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
    model = TrainerAdapter(build_model(args.layers, spec, args.seed), spec)
    trainer = Trainer(model=model, args=targs, train_dataset=ds, data_collator=counting_collator)
    t0 = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - t0
    # accelerate's data loader fetches one batch ahead: count only the batches the steps consumed
    used = batches[:steps]
    return {"seconds": seconds, "examples": sum(r for r, _ in used), "tokens": sum(t for _, t in used)}


def bench_distribution(name: str, tokenizer, args) -> dict:
    feats, spec = load_features(name, tokenizer, 16 if args.smoke else None)
    max_len = DISTRIBUTIONS[name][2]
    steps = args.qa_steps if name == "squad" else args.steps
    lengths = [len(x) for x in feats["input_ids"]]
    pad = tokenizer.pad_token_id
    contenders = {
        "xstilts": lambda: run_xstilts(feats, spec, args, steps, pad),
        "trainer_pad_max": lambda: run_trainer(feats, spec, args, steps, max_len, pad_to_max=True),
        "trainer_dynamic_grouped": lambda: run_trainer(feats, spec, args, steps, max_len, pad_to_max=False),
    }
    if name in args.what_if:
        contenders["xstilts_foreach_adamw"] = lambda: run_xstilts(feats, spec, args, steps, pad, foreach=True)
    # Warm-up (thread pools, allocator, first-call overheads) so no contender pays it alone.
    run_xstilts(feats, spec, args, 2, pad)
    rounds: dict[str, list[dict]] = {c: [] for c in contenders}
    order = list(contenders)
    for r in range(args.rounds):
        for c in order[r % len(order) :] + order[: r % len(order)]:
            res = contenders[c]()
            res["examples_per_s"] = res["examples"] / res["seconds"]
            res["tokens_per_s"] = res["tokens"] / res["seconds"]
            rounds[c].append(res)
            print(
                f"  {name} round {r + 1} {c:24s} {res['examples_per_s']:8.1f} ex/s {res['tokens_per_s']:8.0f} tok/s"
            )
    best = {c: max(rs, key=lambda x: x["examples_per_s"]) for c, rs in rounds.items()}
    return {
        "rows": len(lengths),
        "mean_length": sum(lengths) / len(lengths),
        "max_length": max_len,
        "steps": steps,
        "best": best,
        "rounds": rounds,
    }


def summarise(results: dict) -> tuple[list[dict], list[dict]]:
    """Figures and targets from each distribution's best rounds (also used to re-summarise a saved result).

    Ratios are given on examples/s (the target figure) and on non-pad tokens/s: in a short run every contender
    trains on its own random sample of batches, so its mean row length differs a little, and the token rate
    is the steadier comparison when rows vary as much as QA windows do."""
    figures, targets = [], []
    print(
        f"\n{'distribution':12s} {'runner':24s} {'examples/s':>11s} {'non-pad tok/s':>14s} {'xstilts ×':>10s}"
    )
    for name, res in results.items():
        best = res["best"]
        base, base_tok = best["xstilts"]["examples_per_s"], best["xstilts"]["tokens_per_s"]
        for runner, r in best.items():
            ratio = base / r["examples_per_s"]
            print(
                f"{name:12s} {runner:24s} {r['examples_per_s']:11.1f} {r['tokens_per_s']:14.0f} {ratio:10.2f}"
            )
            figures.append(figure(f"train {name} {runner} examples/s", r["examples_per_s"], "ex/s"))
            figures.append(figure(f"train {name} {runner} non-pad tokens/s", r["tokens_per_s"], "tok/s"))
        for runner, label in (("trainer_pad_max", "Trainer (a)"), ("trainer_dynamic_grouped", "Trainer (b)")):
            ratio = base / best[runner]["examples_per_s"]
            figures.append(figure(f"train {name} xstilts ÷ {label} (examples/s)", ratio, "×"))
            figures.append(figure(f"train {name} xstilts ÷ {label} (non-pad tokens/s)", base_tok / best[runner]["tokens_per_s"], "×"))  # fmt: skip
            if name == "xnli":
                threshold = 1.5 if runner == "trainer_pad_max" else 1.1
                targets.append(target(f"train xnli xstilts ÷ {label} (examples/s)", ratio, threshold, "×"))
    return figures, targets


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--steps", type=int, default=24, help="optimizer steps per contender (xnli, panx)")
    p.add_argument("--qa-steps", type=int, default=12, help="optimizer steps per contender (squad windows)")
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds; each contender keeps its best")
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--distributions", nargs="+", default=list(DISTRIBUTIONS), choices=list(DISTRIBUTIONS))
    p.add_argument(
        "--what-if",
        nargs="*",
        default=["xnli", "panx"],
        choices=list(DISTRIBUTIONS),
        help="distributions that also run the foreach-AdamW what-if (bare --what-if: none)",
    )
    p.add_argument("--tmp", default="/tmp/xstilts-bench")
    args = p.parse_args()
    if args.quick:
        args.steps, args.qa_steps, args.rounds = 8, 4, 1
    if args.smoke:
        args.steps, args.qa_steps, args.rounds, args.layers, args.batch = 2, 1, 1, 1, 2
    quiet()
    ENCODER["name"] = encoder_name(args)
    tokenizer = tokenizer_once()
    results = {name: bench_distribution(name, tokenizer, args) for name in args.distributions}

    figures, targets = summarise(results)
    emit("train_throughput", args, figures, targets, results)


if __name__ == "__main__":
    main()
