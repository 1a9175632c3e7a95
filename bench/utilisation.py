"""Hardware utilisation of the encoder: model FLOP/s of training and inference as a share of the fp32 matmul
peak measured in the same process.

Peak: the best of several large square ``torch.matmul`` (2·n³ FLOPs each). For reference also the rate of
GEMMs with the model's own shapes (tokens × hidden by hidden × {hidden, 4·hidden}), the ceiling a perfect
implementation of this model could reach on this machine.

Model FLOPs are counted per non-pad token (every row is exactly ``--seq`` tokens, so there is no padding):

    forward  = 2 · N + 4 · L · seq · h          N: non-embedding parameters of the L transformer blocks
                                                 (every weight is one multiply-add per token);
                                                 4·L·seq·h: attention scores QKᵀ and the weighted sum AV
    training = 3 · forward                      backward = grads w.r.t. activations + w.r.t. weights

The word-embedding lookup is a gather, not a matmul, so it adds no model FLOPs whether frozen or not; with
frozen word embeddings (as here) nothing is saved or lost in the count. Softmax, LayerNorm, GELU, dropout,
the head and the optimizer are not counted (they are overhead, as in the usual MFU definition).

Training is measured through ``xstilts.training.loop.train`` (the real loop: collate, AdamW, clipping,
schedule) twice per round, for ``--steps`` and for 3 × ``--steps`` optimizer steps: the difference is the
steady-state rate (the target figure: a real run is hundreds of steps; the first step also allocates the
optimizer state and warms the allocator, which a short run would charge to every step), and as a bare forward+backward+clip+AdamW step on a fixed batch, timed per phase,
with the loop's optimizer (multi-tensor ``foreach`` on CPU) and, as a what-if, torch's fused CPU AdamW; the
bare step and bare forward also run with the other attention kernel (``sdpa`` where the CPU default is eager),
and the bare step once more with every dropout off (what the random masks cost: not a recipe to train with).
Inference is measured through ``xstilts.evaluation.predict.predict_logits`` (the target figure) and as a bare
``no_grad`` forward. A ``torch.profiler`` pass splits forward+backward and the inference forward by op
(GEMM, softmax, LayerNorm, GELU, dropout, element-wise, other): with the phase times, that says what bounds
the share of peak.

    python bench/utilisation.py [--layers 6] [--seq 128] [--batch 16] [--rounds 3] [--quick] [--json out.json]
"""

from __future__ import annotations

import time
from collections import defaultdict

import torch
from accelerate import Accelerator
from common import emit, encoder_name, figure, parser, quiet, target

from xstilts.evaluation.predict import predict_logits
from xstilts.formats import get_format
from xstilts.models.loading import ModelSpec, load_encoder
from xstilts.models.task_model import MultiTaskModel
from xstilts.tasks import get_registry
from xstilts.training.loop import LoopSettings, TaskStream, train

PAD = 1  # XLM-R pad id; synthetic rows never contain it


def best_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def matmul_peak(sizes: list[int], repeats: int) -> dict:
    rates = {}
    for n in sizes:
        a, b, out = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
        rates[n] = 2 * n**3 / best_seconds(lambda a=a, b=b, out=out: torch.matmul(a, b, out=out), repeats)
    return {"per_size": rates, "peak": max(rates.values())}


def model_shaped_gemms(tokens: int, hidden: int, ffn: int, repeats: int) -> float:
    """FLOP/s of one block's linear layers (Q, K, V, output, FFN in, FFN out) at the model's shapes."""
    x, y = torch.randn(tokens, hidden), torch.randn(tokens, ffn)
    w_h, w_in, w_out = torch.randn(hidden, hidden), torch.randn(ffn, hidden), torch.randn(hidden, ffn)
    b_h, b_in = torch.randn(hidden), torch.randn(ffn)

    def block():
        for _ in range(4):
            torch.nn.functional.linear(x, w_h, b_h)
        torch.nn.functional.linear(x, w_in, b_in)
        torch.nn.functional.linear(y, w_out, b_h)

    flops = 2 * tokens * (4 * hidden * hidden + 2 * hidden * ffn)
    return flops / best_seconds(block, repeats)


ENCODER = {"name": "e5-small"}  # main() sets it from the arguments


def build(layers: int, attention: str, seed: int) -> tuple[MultiTaskModel, object]:
    spec = get_registry().get("xnli")
    torch.manual_seed(seed)
    model = MultiTaskModel(
        load_encoder(ModelSpec(ENCODER["name"], layers, freeze_word_embeddings=True, attention=attention), seed)
    )
    model.add_head("xnli", get_format("classification").build_head(model.encoder.config.hidden_size, spec, 0.1, "cls"))  # fmt: skip
    return model, spec


def flops_per_token(model: MultiTaskModel, seq: int) -> dict:
    cfg = model.encoder.config
    n_blocks = sum(p.numel() for p in model.encoder.encoder.parameters())
    forward = 2 * n_blocks + 4 * cfg.num_hidden_layers * seq * cfg.hidden_size
    return {"non_embedding_params": n_blocks, "forward": forward, "training": 3 * forward}


def synthetic_features(rows: int, seq: int, vocab: int, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (rows, seq), generator=g)
    ids[:, 0], ids[:, -1] = 0, 2  # <s> … </s>
    labels = torch.randint(0, 3, (rows,), generator=g)
    return {"input_ids": ids.tolist(), "labels": labels.tolist(), "example_index": list(range(rows))}


def loop_training(model, spec, feats, args, steps: int) -> dict:
    stream = TaskStream("xnli", get_format("classification"), feats, PAD, args.batch, args.seed)
    s = LoopSettings(learning_rate=2e-5, batch_size=args.batch, per_device_batch_size=args.batch, max_steps=steps, seed=args.seed)  # fmt: skip
    report = train(model, {"xnli": stream}, s, Accelerator(cpu=True))
    return {"seconds": report.seconds, "tokens": report.tokens_seen}


def loop_rates(model, spec, feats, args, flops_per_token: float) -> dict:
    """FLOP/s of a short loop run (first-step costs included) and the steady state between it and a 3× run."""
    short = loop_training(model, spec, feats, args, args.steps)
    long = loop_training(model, spec, feats, args, 3 * args.steps)
    marginal = (long["tokens"] - short["tokens"]) / (long["seconds"] - short["seconds"])
    return {
        "loop_train": short["tokens"] / short["seconds"] * flops_per_token,
        "loop_steady": marginal * flops_per_token,
    }


def bare_step_fn(model, args, fused: bool = False):
    """One training step on a fixed batch (the loop's optimizer settings: AdamW ``foreach`` on CPU, or fused).
    The returned function records per-phase seconds in ``phases``."""
    handler = get_format("classification")
    rows = synthetic_features(args.batch, args.seq, model.encoder.config.vocab_size, args.seed + 1)
    batch = handler.collate([{k: v[i] for k, v in rows.items()} for i in range(args.batch)], PAD)
    params = [p for p in model.parameters() if p.requires_grad]
    kind = {"fused": True} if fused else {"foreach": True}
    opt = torch.optim.AdamW(params, lr=2e-5, **kind)
    phases: dict[str, list[float]] = defaultdict(list)

    def step():
        model.train()
        t0 = time.perf_counter()
        loss = handler.loss(model("xnli", batch), batch)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        t3 = time.perf_counter()
        opt.step()
        opt.zero_grad(set_to_none=True)
        t4 = time.perf_counter()
        for name, sec in zip(
            ("forward", "backward", "clip", "optimizer"), (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True
        ):
            phases[name].append(sec)

    return step, args.batch * args.seq, phases


def bare_forward_fn(model, args):
    rows = synthetic_features(args.infer_batch, args.seq, model.encoder.config.vocab_size, args.seed + 2)
    batch = get_format("classification").collate([{k: v[i] for k, v in rows.items()} for i in range(args.infer_batch)], PAD)  # fmt: skip

    @torch.no_grad()
    def forward():
        model.eval()
        model("xnli", batch)

    return forward, args.infer_batch * args.seq


def fwd_bwd_fn(model, args):
    """Forward + backward only (gradients accumulate; nothing is stepped): what the profiler splits by op."""
    handler = get_format("classification")
    rows = synthetic_features(args.batch, args.seq, model.encoder.config.vocab_size, args.seed + 1)
    batch = handler.collate([{k: v[i] for k, v in rows.items()} for i in range(args.batch)], PAD)

    def run():
        model.train()
        handler.loss(model("xnli", batch), batch).backward()
        model.zero_grad(set_to_none=True)

    return run


CATEGORIES = [
    ("gemm", ("addmm", "aten::mm", "bmm", "baddbmm", "mkldnn_linear", "aten::_mm")),
    ("softmax", ("softmax",)),
    ("layer_norm", ("layer_norm",)),
    ("gelu", ("gelu",)),
    ("dropout", ("dropout", "bernoulli")),
    ("elementwise", ("aten::mul", "aten::add", "aten::div", "aten::copy_", "aten::sum", "aten::tanh")),
]


def profile_shares(fn, repeats: int) -> dict:
    """Self CPU time per op category (share of the total) over ``repeats`` calls."""
    from torch.profiler import ProfilerActivity, profile

    fn()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(repeats):
            fn()
    by_cat: dict[str, float] = defaultdict(float)
    top = []
    for ev in prof.key_averages():
        us = ev.self_cpu_time_total
        name = ev.key.lower()
        cat = next((c for c, keys in CATEGORIES if any(k.lower() in name for k in keys)), "other")
        by_cat[cat] += us
        top.append((us, ev.key))
    total = sum(by_cat.values()) or 1.0
    top.sort(reverse=True)
    return {
        "shares": {c: by_cat[c] / total for c, _ in [*CATEGORIES, ("other", ())]},
        "gemm_seconds_per_call": by_cat["gemm"] / 1e6 / repeats,
        "top_ops": [(k, us / total) for us, k in top[:12]],
    }


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--batch", type=int, default=16, help="training batch (rows of --seq tokens)")
    p.add_argument(
        "--infer-batch", type=int, default=32, help="bare inference batch (4096 tokens at seq 128)"
    )
    p.add_argument("--steps", type=int, default=8, help="optimizer steps through the xstilts loop per round")
    p.add_argument(
        "--repeats", type=int, default=3, help="best-of repeats for bare steps and matmuls per round"
    )
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds; every figure keeps its best")
    p.add_argument("--attention", default="auto", choices=["auto", "eager", "sdpa"])
    args = p.parse_args()
    if args.quick:
        args.steps, args.repeats, args.rounds = 4, 2, 1
    if args.smoke:
        args.steps, args.repeats, args.rounds, args.layers, args.seq, args.batch, args.infer_batch = 2, 1, 1, 1, 16, 2, 2
    ENCODER["name"] = encoder_name(args)
    quiet()
    torch.manual_seed(args.seed)

    model, spec = build(args.layers, args.attention, args.seed)
    cfg = model.encoder.config
    count = flops_per_token(model, args.seq)
    sizes = [128] if args.smoke else [1024, 2048] if args.quick else [1024, 2048, 3072]
    feats = synthetic_features(args.batch * (3 * args.steps + 2), args.seq, cfg.vocab_size, args.seed)
    infer_feats = synthetic_features(args.infer_batch * 8, args.seq, cfg.vocab_size, args.seed + 3)
    handler = get_format("classification")
    step, step_tokens, phases = bare_step_fn(model, args)
    fused_step, _, fused_phases = bare_step_fn(model, args, fused=True)
    forward, fwd_tokens = bare_forward_fn(model, args)
    other_attention = "sdpa" if model.encoder.config._attn_implementation == "eager" else "eager"
    other, _ = build(args.layers, other_attention, args.seed)
    other_step, _, _ = bare_step_fn(other, args)
    other_forward, _ = bare_forward_fn(other, args)
    no_dropout, _ = build(args.layers, args.attention, args.seed)
    for module in no_dropout.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    no_dropout_step, _, _ = bare_step_fn(no_dropout, args)
    loop_training(model, spec, feats, args, 2)  # warm-up

    def predict():
        predict_logits(model, "xnli", handler, infer_feats, PAD)

    # Every measurement once per round, best round kept: the peak and each rate get their least-contended
    # moment, so a burst of other work on the machine inflates neither side of a ratio.
    best: dict[str, float] = defaultdict(float)
    peaks = []
    for r in range(args.rounds):
        peaks.append(matmul_peak(sizes, args.repeats))
        rates = {
            "shaped": model_shaped_gemms(
                args.batch * args.seq, cfg.hidden_size, cfg.intermediate_size, args.repeats
            ),
            **loop_rates(model, spec, feats, args, count["training"]),
            "bare_train": step_tokens * count["training"] / best_seconds(step, args.repeats),
            "fused_train": step_tokens * count["training"] / best_seconds(fused_step, args.repeats),
            "loop_infer": len(infer_feats["input_ids"])
            * args.seq
            * count["forward"]
            / best_seconds(predict, 1),
            "bare_infer": fwd_tokens * count["forward"] / best_seconds(forward, args.repeats),
            "other_train": step_tokens * count["training"] / best_seconds(other_step, args.repeats),
            "other_infer": fwd_tokens * count["forward"] / best_seconds(other_forward, args.repeats),
            "no_dropout_train": step_tokens * count["training"] / best_seconds(no_dropout_step, args.repeats),
        }
        for k, v in rates.items():
            best[k] = max(best[k], v)
        print(f"round {r + 1}: peak {peaks[-1]['peak'] / 1e9:.1f} GFLOP/s, " + ", ".join(f"{k} {v / 1e9:.1f}" for k, v in rates.items()))  # fmt: skip
    peak = {"peak": max(x["peak"] for x in peaks), "rounds": peaks}
    (
        shaped,
        loop_train,
        loop_steady,
        bare_train,
        fused_train,
        loop_infer,
        bare_infer,
        other_train,
        other_infer,
        no_dropout_train,
    ) = (
        best[k]
        for k in (
            "shaped",
            "loop_train",
            "loop_steady",
            "bare_train",
            "fused_train",
            "loop_infer",
            "bare_infer",
            "other_train",
            "other_infer",
            "no_dropout_train",
        )  # fmt: skip
    )
    phase_s = {k: min(v) for k, v in phases.items()}

    prof_train = profile_shares(fwd_bwd_fn(model, args), 2)
    prof_infer = profile_shares(forward, 3)

    P = peak["peak"]
    g = 1e9
    figures = [
        figure("fp32 matmul peak (best square)", P / g, "GFLOP/s"),
        figure("model-shaped GEMMs (linear layers)", shaped / g, "GFLOP/s"),
        figure("model-shaped GEMMs ÷ peak", 100 * shaped / P, "%"),
        figure("non-embedding parameters", count["non_embedding_params"], ""),
        figure("forward FLOPs per token", count["forward"] / 1e6, "MFLOP"),
        figure(f"training via xstilts loop, {args.steps} steps", loop_train / g, "GFLOP/s"),
        figure(f"training via xstilts loop, {args.steps} steps ÷ peak", 100 * loop_train / P, "%"),
        figure("training via xstilts loop, steady state", loop_steady / g, "GFLOP/s"),
        figure("training via xstilts loop, steady state ÷ peak", 100 * loop_steady / P, "%"),
        figure("training bare fwd+bwd+AdamW step", bare_train / g, "GFLOP/s"),
        figure("training bare step ÷ peak", 100 * bare_train / P, "%"),
        *[figure(f"training bare step: {k} time", 1e3 * v, "ms") for k, v in phase_s.items()],
        figure("training bare step, fused AdamW (what-if)", fused_train / g, "GFLOP/s"),
        figure("training bare step, fused AdamW ÷ peak", 100 * fused_train / P, "%"),
        figure("fused AdamW optimizer time", 1e3 * min(fused_phases["optimizer"]), "ms"),
        figure("inference via predict_logits", loop_infer / g, "GFLOP/s"),
        figure("inference via predict_logits ÷ peak", 100 * loop_infer / P, "%"),
        figure("inference bare forward", bare_infer / g, "GFLOP/s"),
        figure("inference bare forward ÷ peak", 100 * bare_infer / P, "%"),
        figure(
            f"training bare step, {other_attention} attention (what-if) ÷ peak", 100 * other_train / P, "%"
        ),
        figure(
            f"inference bare forward, {other_attention} attention (what-if) ÷ peak",
            100 * other_infer / P,
            "%",
        ),
        figure("training bare step, dropout off (what-if) ÷ peak", 100 * no_dropout_train / P, "%"),
    ]
    for label, prof in (("training fwd+bwd", prof_train), ("inference forward", prof_infer)):
        for cat, share in prof["shares"].items():
            figures.append(figure(f"profile {label}: {cat} share of CPU time", 100 * share, "%"))
    step_flops = step_tokens * count["training"]
    figures.append(figure("training fwd+bwd model FLOPs ÷ GEMM time (profiled)", step_flops / prof_train["gemm_seconds_per_call"] / g, "GFLOP/s"))  # fmt: skip
    infer_flops = fwd_tokens * count["forward"]
    figures.append(figure("inference model FLOPs ÷ GEMM time (profiled)", infer_flops / prof_infer["gemm_seconds_per_call"] / g, "GFLOP/s"))  # fmt: skip
    targets = [
        target("training (xstilts loop, steady state) share of matmul peak", 100 * loop_steady / P, 60, "%"),
        target("inference (predict_logits) share of matmul peak", 100 * loop_infer / P, 75, "%"),
    ]
    for label, prof in (("training fwd+bwd", prof_train), ("inference forward", prof_infer)):
        print(f"\ntop ops, {label} (self CPU share):")
        for name, share in prof["top_ops"]:
            print(f"  {100 * share:5.1f}%  {name}")
    raw = {"peak": peak, "count": count, "phases": phases, "fused_phases": fused_phases, "profile_training": prof_train, "profile_inference": prof_infer}  # fmt: skip
    emit("utilisation", args, figures, targets, raw)


if __name__ == "__main__":
    main()
