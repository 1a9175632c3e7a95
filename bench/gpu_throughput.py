"""The GPU path of the training benchmark: xstilts' loop against ``transformers.Trainer`` on one GPU, with
``xlm-roberta-base``-sized, randomly initialised weights (no hub), and model FLOP utilisation (MFU) against the
bf16 matmul peak measured in the same process.

The data are random token ids with the *real* length distribution of the sample's XNLI-style pairs (and PAN-X
sentences), read from ``bench/data/lengths.json`` so the GPU machine needs neither the sample nor a tokenizer.
Contenders, all bf16 autocast with TF32 matmuls allowed, SDPA attention, the same model, head, loss, learning
rate, warm-up, clipping, batch and steps:

* ``xstilts``: the training loop (length-grouped batches padded per batch, fused AdamW);
* ``xstilts_compiled``: the same with the encoder under ``torch.compile(dynamic=True)`` (``--compile``; its
  compilation happens in an untimed warm-up run);
* ``trainer_pad_max``: Trainer as the example scripts run it (every row padded to 128, random order);
* ``trainer_dynamic_grouped``: Trainer's best settings (dynamic padding, grouped by length).

Inference: ``predict_logits`` (length-sorted, token-budgeted batches) in bf16 over the same rows.

    PYTHONPATH=src python3 bench/gpu_throughput.py [--steps 60] [--batch 32] [--compile] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import random
import tempfile
import time
from pathlib import Path

import torch
from accelerate import Accelerator
from train_throughput import TrainerAdapter  # the CPU benchmark's: same model and loss behind Trainer
from transformers import BertConfig, BertModel

from xstilts.evaluation.predict import predict_logits
from xstilts.formats import get_format
from xstilts.models.task_model import MultiTaskModel
from xstilts.tasks import get_registry
from xstilts.training.loop import LoopSettings, TaskStream, train

PAD = 1
SMOKE = {"on": False}  # --smoke: a tiny model on the CPU in fp32, to check the script without a GPU
BASE_SHAPE = {"vocab_size": 250_002, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
              "intermediate_size": 3072, "max_position_embeddings": 514, "type_vocab_size": 1}  # fmt: skip


def device() -> str:
    return "cpu" if SMOKE["on"] else "cuda"


def accelerator() -> Accelerator:
    return Accelerator(cpu=True) if SMOKE["on"] else Accelerator(mixed_precision="bf16")


def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def bf16_peak(n: int = 8192, repeats: int = 10) -> float:
    """FLOP/s of an n×n×n bf16 matmul (mean of ``repeats`` after warm-up): the MFU denominator."""
    dtype = torch.float32 if SMOKE["on"] else torch.bfloat16
    a = torch.randn(n, n, device=device(), dtype=dtype)
    b = torch.randn(n, n, device=device(), dtype=dtype)
    for _ in range(3):
        a @ b
    synchronize()
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    synchronize()
    return 2 * n**3 * repeats / (time.perf_counter() - t0)


def features(lengths: list[int], rows: int, seed: int) -> dict:
    rng = random.Random(seed)
    picked = [rng.choice(lengths) for _ in range(rows)]
    ids = [[0] + [rng.randrange(5, BASE_SHAPE["vocab_size"] - 1) for _ in range(n - 2)] + [2] for n in picked]
    return {"input_ids": ids, "labels": [rng.randrange(3) for _ in picked]}


def build(spec, seed: int) -> MultiTaskModel:
    torch.manual_seed(seed)
    encoder = BertModel(
        BertConfig(**BASE_SHAPE, pad_token_id=PAD, attn_implementation="sdpa"), add_pooling_layer=False
    )
    model = MultiTaskModel(encoder)
    model.add_head(spec.name, get_format(spec.format).build_head(BASE_SHAPE["hidden_size"], spec, 0.1, "cls"))
    return model


def train_flops_per_token(mean_len: float) -> float:
    """3 × (2·N + 4·L·s·h): N non-embedding parameters, attention at the mean sequence length s."""
    h, layers, ffn = (
        BASE_SHAPE["hidden_size"],
        BASE_SHAPE["num_hidden_layers"],
        BASE_SHAPE["intermediate_size"],
    )
    n = layers * (4 * h * h + 2 * h * ffn)
    return 3 * (2 * n + 4 * layers * mean_len * h)


def run_xstilts(spec, feats, args, compiled: bool) -> dict:
    model = build(spec, args.seed)
    if compiled:
        model.encoder = torch.compile(model.encoder, dynamic=True)
    settings = LoopSettings(learning_rate=2e-5, batch_size=args.batch, per_device_batch_size=args.batch,
                            max_steps=args.steps, seed=args.seed)  # fmt: skip
    if compiled:  # compile (and autotune) outside the timed run
        warm = dataclasses.replace(settings, max_steps=max(4, args.steps // 4))
        stream = TaskStream(spec.name, get_format(spec.format), feats, PAD, args.batch, args.seed + 1)
        train(model, {spec.name: stream}, warm, accelerator())
    stream = TaskStream(spec.name, get_format(spec.format), feats, PAD, args.batch, args.seed)
    synchronize()
    t0 = time.perf_counter()
    report = train(model, {spec.name: stream}, settings, accelerator())
    synchronize()
    return {
        "seconds": time.perf_counter() - t0,
        "examples": report.examples_seen,
        "tokens": report.tokens_seen,
    }


def run_trainer(spec, feats, args, pad_to_max: bool) -> dict:
    from transformers import Trainer, TrainingArguments

    rows = [
        {"input_ids": ids, "labels": y} for ids, y in zip(feats["input_ids"], feats["labels"], strict=True)
    ]
    used: list[tuple[int, int]] = []

    def collate(batch):
        width = 128 if pad_to_max else max(len(r["input_ids"]) for r in batch)
        ids = torch.full((len(batch), width), PAD, dtype=torch.long)
        for i, r in enumerate(batch):
            ids[i, : len(r["input_ids"])] = torch.tensor(r["input_ids"])
        mask = (ids != PAD).long()
        used.append((len(batch), int(mask.sum())))
        return {
            "input_ids": ids,
            "attention_mask": mask,
            "labels": torch.tensor([r["labels"] for r in batch]),
        }

    fields = {f.name for f in dataclasses.fields(TrainingArguments)}
    kwargs = {"warmup_ratio": 0.1} if "warmup_ratio" in fields else {"warmup_steps": 0.1}
    if "train_sampling_strategy" in fields:
        kwargs["train_sampling_strategy"] = "random" if pad_to_max else "group_by_length"
    else:
        kwargs["group_by_length"] = not pad_to_max
    targs = TrainingArguments(
        output_dir=tempfile.mkdtemp(), per_device_train_batch_size=args.batch, learning_rate=2e-5,
        max_grad_norm=1.0, weight_decay=0.0, max_steps=args.steps, seed=args.seed, bf16=not SMOKE["on"],
        tf32=not SMOKE["on"], use_cpu=SMOKE["on"],
        report_to=[], save_strategy="no", logging_strategy="no", disable_tqdm=True, remove_unused_columns=False,
        dataloader_num_workers=0, **kwargs,
    )  # fmt: skip
    trainer = Trainer(model=TrainerAdapter(build(spec, args.seed), spec), args=targs, train_dataset=rows,
                      data_collator=collate)  # fmt: skip
    synchronize()
    t0 = time.perf_counter()
    trainer.train()
    synchronize()
    seconds = time.perf_counter() - t0
    steps = used[: args.steps]  # the loader fetches one batch ahead
    return {"seconds": seconds, "examples": sum(r for r, _ in steps), "tokens": sum(t for _, t in steps)}


def run_inference(spec, feats, args) -> dict:
    model = build(spec, args.seed).to(device())
    handler = get_format(spec.format)

    def autocast():
        return contextlib.nullcontext() if SMOKE["on"] else torch.autocast("cuda", dtype=torch.bfloat16)

    def predict():
        predict_logits(model, spec.name, handler, feats, PAD, device(), max_tokens=32768, autocast=autocast)

    predict()  # warm-up
    synchronize()
    t0 = time.perf_counter()
    predict()
    synchronize()
    seconds = time.perf_counter() - t0
    tokens = sum(len(x) for x in feats["input_ids"])
    return {"seconds": seconds, "examples": len(feats["input_ids"]), "tokens": tokens}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lengths", default=str(Path(__file__).parent / "data" / "lengths.json"))
    p.add_argument("--distribution", default="xnli", choices=["xnli", "panx"])
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--rows", type=int, default=4096)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--compile", action="store_true")
    p.add_argument("--json", default=None)
    p.add_argument(
        "--smoke", action="store_true", help="tiny model on the CPU: checks the script, measures nothing"
    )
    args = p.parse_args()
    if args.smoke:
        SMOKE["on"] = True
        BASE_SHAPE.update(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
        args.steps, args.rows, args.rounds, args.batch = 3, 64, 1, 8  # seconds on a CPU
    elif not torch.cuda.is_available():
        raise SystemExit("gpu_throughput.py needs a CUDA GPU (or --smoke)")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    spec = get_registry().get("xnli")
    lengths = json.loads(Path(args.lengths).read_text())[args.distribution]
    feats = features(lengths, args.rows, args.seed)
    peak = bf16_peak(512 if args.smoke else 8192)
    device = "CPU (smoke)" if args.smoke else torch.cuda.get_device_name()
    print(f"{device}: matmul peak {peak / 1e12:.1f} TFLOP/s")
    contenders = {
        "xstilts": lambda: run_xstilts(spec, feats, args, compiled=False),
        "trainer_pad_max": lambda: run_trainer(spec, feats, args, pad_to_max=True),
        "trainer_dynamic_grouped": lambda: run_trainer(spec, feats, args, pad_to_max=False),
    }
    if args.compile:
        contenders["xstilts_compiled"] = lambda: run_xstilts(spec, feats, args, compiled=True)
    run_xstilts(spec, feats, argparse.Namespace(**{**vars(args), "steps": 5}), compiled=False)  # CUDA warm-up
    best: dict[str, dict] = {}
    for r in range(args.rounds):
        for name, fn in contenders.items():
            try:
                res = fn()
            except Exception as err:  # a contender that cannot run here is reported, not fatal
                print(f"  {name}: failed: {err!r}")
                best.setdefault(name, {"error": repr(err)})
                continue
            res["examples_per_s"] = res["examples"] / res["seconds"]
            res["tokens_per_s"] = res["tokens"] / res["seconds"]
            res["mfu"] = (
                res["tokens"] / res["seconds"] * train_flops_per_token(res["tokens"] / res["examples"]) / peak
            )
            print(f"  round {r + 1} {name:24s} {res['examples_per_s']:9.1f} ex/s {res['tokens_per_s']:10.0f} "
                  f"tok/s  MFU {100 * res['mfu']:.1f} %")  # fmt: skip
            if (
                "examples_per_s" not in best.get(name, {})
                or res["examples_per_s"] > best[name]["examples_per_s"]
            ):
                best[name] = res
    inference = run_inference(spec, feats, args)
    inference["examples_per_s"] = inference["examples"] / inference["seconds"]
    mean_len = inference["tokens"] / inference["examples"]
    inference["mfu"] = inference["tokens"] / inference["seconds"] * train_flops_per_token(mean_len) / 3 / peak
    print(
        f"  inference (predict_logits, bf16) {inference['examples_per_s']:9.1f} ex/s  MFU {100 * inference['mfu']:.1f} %"
    )
    ratios = {}
    for other in ("trainer_pad_max", "trainer_dynamic_grouped"):
        if "examples_per_s" in best.get(other, {}) and "examples_per_s" in best.get("xstilts", {}):
            ratios[f"xstilts / {other}"] = best["xstilts"]["examples_per_s"] / best[other]["examples_per_s"]
            print(f"  xstilts ÷ {other}: {ratios[f'xstilts / {other}']:.2f}×")
    out = {"device": device, "torch": torch.__version__, "bf16_peak_flops": peak,
           "args": vars(args), "training": best, "inference": inference, "ratios": ratios,
           "mean_length": sum(len(x) for x in feats["input_ids"]) / len(feats["input_ids"])}  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
