"""Compute-cost estimates for a plan: FLOPs of each stage from the model's shape and the data sizes, divided by
a training FLOP/s figure *measured on this machine* (a few steps of a small BERT, cached per host/device).

Per token, a forward pass costs 2·N + 4·L·s·h FLOPs (N non-embedding parameters, L layers, s sequence length,
h hidden size: the dense matmuls plus attention scores and mixing); training costs three forward passes.
Token counts assume sequences fill half of ``max_seq_length`` on average (padding-free batching), a documented
approximation: sentence pairs fill less, QA windows more.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from xstilts.paths import cache_dir

FILL = 0.5

#: shapes of common encoders, for planning without downloading them (layers, hidden, ffn)
KNOWN_SHAPES = {
    "xlm-roberta-large": (24, 1024, 4096),
    "FacebookAI/xlm-roberta-large": (24, 1024, 4096),
    "xlm-roberta-base": (12, 768, 3072),
    "FacebookAI/xlm-roberta-base": (12, 768, 3072),
    "bert-base-multilingual-cased": (12, 768, 3072),
    "google-bert/bert-base-multilingual-cased": (12, 768, 3072),
    "e5-small": (12, 384, 1536),
    "tiny": (2, 32, 64),
}

#: English training-set sizes of hub-only tasks (PROTOCOL §1-2), used when the data is not on this machine
TRAIN_SIZES = {
    "mnli": 392_702, "snli": 549_367, "qqp": 363_846, "sst2": 67_349, "anli_r1": 16_946, "anli_r2": 45_460,
    "anli_r3": 100_459, "squad_v1": 87_599, "squad_v2": 130_319, "hellaswag": 39_905, "cosmosqa": 25_262,
    "commonsenseqa": 9_741, "ccg": 38_015, "udpos": 21_253, "panx": 20_000, "xnli": 392_702, "pawsx": 49_401,
    "xquad": 87_599, "mlqa": 87_599, "tydiqa": 3_696,
}  # fmt: skip


def model_shape(name: str, num_layers: int | None) -> tuple[int, int, int] | None:
    shape = KNOWN_SHAPES.get(name)
    config = Path(name) / "config.json"
    if shape is None and config.exists():
        c = json.loads(config.read_text())
        shape = (c["num_hidden_layers"], c["hidden_size"], c["intermediate_size"])
    if shape is None:
        return None
    layers, hidden, ffn = shape
    return (min(num_layers or layers, layers), hidden, ffn)


def train_flops_per_token(shape: tuple[int, int, int], seq: int) -> float:
    layers, hidden, ffn = shape
    params = layers * (4 * hidden * hidden + 2 * hidden * ffn)
    return 3 * (2 * params + 4 * layers * seq * hidden)


@dataclass
class Throughput:
    flops_per_s: float
    device: str
    measured: str  # when / where


def measured_throughput(device: str = "cpu") -> Throughput:
    """Training FLOP/s of a 2-layer, 384-wide BERT at length 128 on this machine (cached)."""
    key = f"{platform.node()}|{device}|torch {torch.__version__}|{torch.get_num_threads()} threads"
    path = cache_dir() / "throughput.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    if key in known:
        return Throughput(known[key], device, key)
    from transformers import BertConfig, BertModel

    cfg = BertConfig(vocab_size=1000, hidden_size=384, num_hidden_layers=2, num_attention_heads=6,
                     intermediate_size=1536, attn_implementation="eager")  # fmt: skip
    model = BertModel(cfg).to(device)
    ids = torch.randint(5, 1000, (16, 128), device=device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    best = float("inf")
    for _ in range(4):
        t0 = time.perf_counter()
        model(input_ids=ids).last_hidden_state.float().pow(2).mean().backward()
        opt.step()
        opt.zero_grad()
        best = min(best, time.perf_counter() - t0)
    flops = train_flops_per_token((2, 384, 1536), 128) * ids.numel() / best
    known[key] = flops
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(known, indent=1))
    return Throughput(flops, device, key)
