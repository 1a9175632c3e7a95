"""Zero-shot evaluation cost: all languages of a task in one process vs one process per language, and
inference throughput with length-sorted batching vs unsorted batches.

1. Process layout. The first ``--examples`` XNLI test rows of every sample language with gold (11 languages)
   are evaluated with the embedded e5-small (first ``--layers`` layers) and a freshly initialised
   classification head (accuracy is irrelevant): read, tokenise, predict (``predict_logits``), decode, score.
   (a) one worker process does every language, as ``xstilts`` does after a target training; (b) one worker
   process per language, as the example scripts are driven (``run_xnli.py --language xx`` in a shell loop),
   so every language pays interpreter start, imports and model load again. Both sides run the same worker
   code as subprocesses and are timed wall-clock from spawn to exit.
2. Batching. On the pooled features of all languages, in this process: ``predict_logits`` (rows sorted by
   length, packed to a 4,096-token budget) vs the same model on unsorted batches of ``--batch`` rows in file
   order, padded per batch (a dynamic-padding collator) or to max length 128 (``pad_to_max_length``). Rounds
   are interleaved and each contender keeps its best; the largest logit difference against the sorted run
   checks that the batching does not change results.

    python bench/evaluation.py [--examples 300] [--layers 6] [--batch 32] [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import torch
from common import data_roots, emit, encoder_name, figure, parser, quiet

from xstilts.data.loading import gold_languages, load_split
from xstilts.evaluation.predict import predict_logits
from xstilts.formats import get_format
from xstilts.formats.base import FeatureSettings
from xstilts.models.loading import ModelSpec, load_encoder, load_tokenizer
from xstilts.models.task_model import MultiTaskModel
from xstilts.tasks import get_registry

TASK, SPLIT, MAX_LEN = "xnli", "test", 128


ENCODER = {"name": "e5-small"}  # main() sets it from the arguments (a worker gets --smoke passed on)


def build_model(layers: int, seed: int) -> MultiTaskModel:
    spec = get_registry().get(TASK)
    torch.manual_seed(seed)
    model = MultiTaskModel(load_encoder(ModelSpec(ENCODER["name"], layers, freeze_word_embeddings=True), seed))
    hidden = model.encoder.config.hidden_size
    model.add_head(TASK, get_format(spec.format).build_head(hidden, spec, 0.1, "mean"))
    return model


def language_features(lang: str, n: int, tokenizer) -> tuple[object, dict]:
    spec = get_registry().get(TASK)
    data = load_split(spec, SPLIT, lang, data_roots())
    examples = data.examples[:n]
    feats = get_format(spec.format).featurize(
        examples, tokenizer, spec, FeatureSettings(max_seq_length=MAX_LEN)
    )
    return examples, feats


def worker(langs: list[str], n: int, layers: int, seed: int) -> None:
    """Evaluate ``langs`` in this process; print one ``RESULT {json}`` line."""
    t0 = time.perf_counter()
    tokenizer = load_tokenizer("e5-small")
    model = build_model(layers, seed)
    loaded = time.perf_counter() - t0
    spec, handler = get_registry().get(TASK), get_format("classification")
    scores = {}
    for lang in langs:
        examples, feats = language_features(lang, n, tokenizer)
        logits = predict_logits(model, TASK, handler, feats, tokenizer.pad_token_id)
        preds = handler.decode(logits, feats, examples, spec)
        scores[lang] = handler.score(preds, examples, spec, lang)["accuracy"]
    print("RESULT " + json.dumps({"model_load_s": loaded, "accuracy": scores}))


def spawn(langs: list[str], args) -> tuple[float, dict]:
    cmd = [sys.executable, __file__, "--worker", ",".join(langs), "--examples", str(args.examples)]
    cmd += ["--layers", str(args.layers), "--seed", str(args.seed)] + (["--smoke"] if args.smoke else [])
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}:\n{proc.stderr[-3000:]}")
    out = proc.stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    return seconds, json.loads(line[len("RESULT ") :])


@torch.no_grad()
def unsorted_logits(model, handler, feats, pad_id: int, batch: int, pad_to: int | None) -> tuple[list, int]:
    """Batches of ``batch`` rows in feature order; returns logits and padded tokens processed."""
    model.eval()
    out, padded = [], 0
    for start in range(0, len(feats["input_ids"]), batch):
        rows = [{k: col[i] for k, col in feats.items()} for i in range(start, min(start + batch, len(feats["input_ids"])))]  # fmt: skip
        if pad_to:
            rows = [
                {**r, "input_ids": r["input_ids"] + [pad_id] * (pad_to - len(r["input_ids"]))} for r in rows
            ]
        b = handler.collate(rows, pad_id)
        padded += b["input_ids"].numel()
        out += list(model(TASK, b).float())
    return out, padded


def batching(args, tokenizer, langs: list[str]) -> dict:
    model = build_model(args.layers, args.seed)
    handler, pad = get_format("classification"), tokenizer.pad_token_id
    pooled: dict[str, list] = {}
    for lang in langs:
        for k, v in language_features(lang, args.examples, tokenizer)[1].items():
            pooled.setdefault(k, []).extend(v)
    rows = len(pooled["input_ids"])
    tokens = sum(len(x) for x in pooled["input_ids"])
    contenders = {
        "sorted (predict_logits)": lambda: (predict_logits(model, TASK, handler, pooled, pad), None),
        f"unsorted, dynamic padding, batch {args.batch}": lambda: unsorted_logits(
            model, handler, pooled, pad, args.batch, None
        ),  # fmt: skip
        f"unsorted, padded to {MAX_LEN}, batch {args.batch}": lambda: unsorted_logits(
            model, handler, pooled, pad, args.batch, MAX_LEN
        ),  # fmt: skip
    }
    contenders["sorted (predict_logits)"]()  # warm-up
    best: dict[str, float] = {}
    logits: dict[str, list] = {}
    padded: dict[str, int | None] = {}
    names = list(contenders)
    for r in range(args.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            t0 = time.perf_counter()
            logits[name], padded[name] = contenders[name]()
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - t0)
    ref = torch.stack(logits[names[0]])
    return {
        "rows": rows,
        "tokens": tokens,
        "seconds": best,
        "padded_tokens": padded,
        "max_abs_logit_diff": {n: float((torch.stack(logits[n]) - ref).abs().max()) for n in names[1:]},
    }


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--examples", type=int, default=300, help="first N test rows per language")
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--batch", type=int, default=32, help="unsorted inference batch size")
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds of the batching comparison")
    p.add_argument("--worker", help=argparse.SUPPRESS)  # internal: comma-separated languages to evaluate
    args = p.parse_args()
    quiet()
    ENCODER["name"] = encoder_name(args)
    if args.worker:
        worker(args.worker.split(","), args.examples, args.layers, args.seed)
        return
    if args.quick:
        args.examples, args.rounds = 60, 1
    if args.smoke:
        args.examples, args.rounds, args.layers, args.batch = 4, 1, 1, 2
    langs = gold_languages(get_registry().get(TASK), SPLIT, data_roots())
    langs = langs[:1] if args.smoke else langs  # each language is one more process to start
    tokenizer = load_tokenizer("e5-small")

    one_s, one = spawn(langs, args)
    # one language: the one-process run already is the per-language run (smoke: one process fewer to start)
    per = [(one_s, one)] if len(langs) == 1 else [spawn([lang], args) for lang in langs]
    per_s = sum(s for s, _ in per)
    per_acc = {k: v for _, r in per for k, v in r["accuracy"].items()}

    bat = batching(args, tokenizer, langs)
    sorted_name = "sorted (predict_logits)"
    figures = [
        figure("languages", len(langs)),
        figure("examples per language", args.examples),
        figure("evaluate all languages, one process", one_s, "s"),
        figure("evaluate all languages, one process per language", per_s, "s"),
        figure("one process ÷ process per language (speed-up)", per_s / one_s, "×"),
        figure("model load per process (mean)", sum(r["model_load_s"] for _, r in per) / len(per), "s"),
        figure("same accuracies in both layouts", per_acc == one["accuracy"]),
    ]
    for name, sec in bat["seconds"].items():
        figures.append(figure(f"inference {name}", bat["rows"] / sec, "ex/s"))
        figures.append(figure(f"inference {name} non-pad tokens/s", bat["tokens"] / sec, "tok/s"))
        if name != sorted_name:
            figures.append(figure(f"sorted ÷ {name}", sec / bat["seconds"][sorted_name], "×"))
            figures.append(figure(f"padding share, {name}", 100 * (1 - bat["tokens"] / bat["padded_tokens"][name]), "%"))  # fmt: skip
            figures.append(figure(f"max |Δlogit| vs sorted, {name}", bat["max_abs_logit_diff"][name]))
    raw = {"languages": langs, "one_process": {"seconds": one_s, **one}, "per_language": [{"seconds": s, **r} for s, r in per], "batching": bat}  # fmt: skip
    emit("evaluation", args, figures, [], raw)


if __name__ == "__main__":
    main()
