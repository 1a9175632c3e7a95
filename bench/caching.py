"""What the caches save: cold vs warm featurisation, and stage counts of a grid vs the naive loop.

1. Feature cache (``xstilts.features.featurize``, Arrow files under ``$XSTILTS_CACHE_DIR/features``). In a
   fresh temporary cache: SQuAD-style QA windows (``squad_v1`` train, 384/128), XNLI test in every sample
   language (classification, 128) and PAN-X English train (tagging, 128). Cold = the first ``featurize``
   call (tokenise + write); warm = the best of ``--repeats`` later calls (read). Also "prepare" =
   ``load_split`` (read, parse and checksum the source file) + ``featurize``, which is what a pipeline stage
   pays for its data, and the cost of ``tokenizer_fingerprint`` (first and repeated call), which every
   ``featurize`` call asks for.
   Target: warm ≥ 20× faster than cold. What-if: warm reads with the fingerprint computed once per tokenizer
   (patched into ``xstilts.features`` in this process only).
2. Grid vs naive loop. A real ``Pipeline`` run of arms × targets × seeds on the ``tiny`` model (2 steps per
   training, a few examples), in this process, with ``train`` and ``featurize`` counted and each featurize
   call attributed to the stage kind making it. The naive loop trains each arm's intermediate model again for
   every target and tokenises, in every stage, the splits that stage reads: intermediate trainings
   (arms with tasks)×targets×seeds vs (arms with tasks)×seeds; tokenisations per stage vs feature-cache
   misses (once per split, done by one prepare stage per task where the pipeline has them). The planner's
   stage totals are listed too. A second run of the same configuration shows what a re-run recomputes.

    python bench/caching.py [--repeats 5] [--quick] [--json out.json]
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import yaml
from common import data_roots, emit, figure, parser, quiet, target, temp_cache

from xstilts.data.loading import gold_languages, load_split
from xstilts.features import featurize, tokenizer_fingerprint
from xstilts.formats.base import FeatureSettings
from xstilts.models.loading import load_tokenizer
from xstilts.tasks import get_registry

SPLITS = [  # (name, task, split, languages or None = every gold language, settings)
    ("squad_v1 train (span QA 384/128)", "squad_v1", "train", ["en"], FeatureSettings(384, 128)),
    ("xnli test, all languages (classification 128)", "xnli", "test", None, FeatureSettings(128)),
    ("panx train en (tagging 128)", "panx", "train", ["en"], FeatureSettings(128)),
]


def memoised_fingerprint():
    """``tokenizer_fingerprint`` computed once per tokenizer object: the what-if patched into
    ``xstilts.features`` (in this process only) to show what the repeated fingerprint costs a warm read."""
    memo: dict[int, str] = {}

    def fingerprint(tok) -> str:
        if id(tok) not in memo:
            memo[id(tok)] = tokenizer_fingerprint(tok)
        return memo[id(tok)]

    return fingerprint


def warm_read(data, spec, tokenizer, settings, feats, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        again, hit = featurize(data, spec, tokenizer, settings)
        best = min(best, time.perf_counter() - t0)
        assert hit and again == feats, "a warm read differs from the features it cached"
    return best


def feature_cache(tokenizer, repeats: int, smoke: bool = False) -> dict:
    """``smoke``: the first 8 examples of one language per split (checks the code path, measures nothing)."""
    import xstilts.features as features_module

    reg, roots = get_registry(), data_roots()
    out = {}
    for name, task, split, langs, settings in SPLITS:
        spec = reg.get(task)
        langs = langs or gold_languages(spec, split, roots)
        langs = langs[:1] if smoke else langs
        res = {"cold": 0.0, "warm": 0.0, "warm_memo": 0.0, "load": 0.0, "rows": 0}
        for lang in langs:
            t0 = time.perf_counter()
            data = load_split(spec, split, lang, roots)
            res["load"] += time.perf_counter() - t0
            if smoke:
                data = replace(data, examples=data.examples[:8], checksum=f"{data.checksum}[:8]")
            t0 = time.perf_counter()
            feats, hit = featurize(data, spec, tokenizer, settings)
            res["cold"] += time.perf_counter() - t0
            assert not hit, "the temporary cache was not empty"
            res["rows"] += len(feats["input_ids"])
            res["warm"] += warm_read(data, spec, tokenizer, settings, feats, repeats)
            features_module.tokenizer_fingerprint = memoised_fingerprint()
            try:
                res["warm_memo"] += warm_read(data, spec, tokenizer, settings, feats, repeats)
            finally:
                features_module.tokenizer_fingerprint = tokenizer_fingerprint
        res["languages"] = len(langs)
        out[name] = res
    return out


def grid_config(out: Path, quick: bool, smoke: bool = False) -> dict:
    steps = {"max_steps": 2, "eval_every": 100, "eval_examples": 8, "batch_size": 4, "per_device_batch_size": 4, "max_seq_length": 64}  # fmt: skip
    arms = [{"name": "baseline"}, {"name": "mnli", "tasks": ["mnli"], "max_train_examples": 16}]
    arms += [] if quick or smoke else [{"name": "sst2", "tasks": ["sst2"], "max_train_examples": 16}]
    targets = [
        {"task": "xnli", "train": {"task": "mnli", "max_examples": 16}, "languages": ["en", "de"],
         "max_eval_examples": 8},
        {"task": "pawsx", "train": {"split": "dev", "language": "en", "max_examples": 24},
         "languages": ["en", "de"], "max_eval_examples": 8},
    ]  # fmt: skip
    return {
        "name": "grid-bench",
        "output_dir": str(out),
        "model": {"name": "tiny"},
        "seeds": [1] if quick or smoke else [1, 2],
        "intermediate": steps,
        "target_training": steps,
        "arms": arms,
        "targets": targets[:1] if smoke else targets,
    }


def run_grid(cfg_path: Path) -> dict:
    """One pipeline run (in this process) with ``train`` and ``featurize`` counted where the pipeline calls
    them, and featurize calls attributed to the stage kind (prepare / intermediate / target) making them."""
    import inspect

    import xstilts.pipeline as pm
    from xstilts.config import load_config

    counts = {"intermediate_trainings": 0, "target_trainings": 0, "featurize_calls": 0, "tokenisations": 0}
    by_kind: dict[str, int] = {"prepare": 0, "intermediate": 0, "target": 0, "other": 0}
    stage_runs: dict[str, int] = {k: 0 for k in ("prepare", "intermediate", "target")}
    current = ["other"]
    real_train, real_featurize = pm.train, pm.featurize
    train_sig = inspect.signature(real_train)

    def counted_train(*a, **kw):
        description = train_sig.bind(*a, **kw).arguments.get("description", "train")
        counts[
            "intermediate_trainings" if description.startswith("intermediate") else "target_trainings"
        ] += 1
        return real_train(*a, **kw)

    def counted_featurize(*a, **kw):
        feats, hit = real_featurize(*a, **kw)
        counts["featurize_calls"] += 1
        counts["tokenisations"] += not hit
        by_kind[current[0]] += 1
        return feats, hit

    def marked(kind, method):
        def run(self, *a, **kw):
            outer, current[0] = current[0], kind
            stage_runs[kind] += 1
            try:
                return method(self, *a, **kw)
            finally:
                current[0] = outer

        return run

    originals = {k: getattr(pm.Pipeline, k) for k in stage_runs if callable(getattr(pm.Pipeline, k, None))}
    pm.train, pm.featurize = counted_train, counted_featurize
    for kind, method in originals.items():
        setattr(pm.Pipeline, kind, marked(kind, method))
    try:
        cfg = load_config(cfg_path)
        pipe = pm.Pipeline(cfg, echo=lambda line: None)
        counts["planned_stages"] = planned_stages(pipe)
        t0 = time.perf_counter()
        pipe.run()
        counts["seconds"] = time.perf_counter() - t0
    finally:
        pm.train, pm.featurize = real_train, real_featurize
        for kind, method in originals.items():
            setattr(pm.Pipeline, kind, method)
    counts["featurize_calls_by_stage_kind"] = by_kind
    counts["stage_method_calls"] = stage_runs
    return counts


def planned_stages(pipe) -> dict | None:
    """The stage graph's own totals per kind, where this version of xstilts has one (``xstilts.grid``)."""
    try:
        from xstilts.grid.graph import build_graph, counts

        return {kind: c["total"] for kind, c in counts(build_graph(pipe)).items()}
    except (ImportError, AttributeError, TypeError, KeyError):
        return None


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--repeats", type=int, default=5, help="warm reads per split (best kept)")
    args = p.parse_args()
    if args.quick or args.smoke:
        args.repeats = 1 if args.smoke else 2
    quiet()
    tokenizer = load_tokenizer("e5-small")
    with tempfile.TemporaryDirectory(prefix="xstilts-cache-bench-") as tmp:
        os.environ["XSTILTS_CACHE_DIR"] = str(temp_cache(Path(tmp)))
        fresh = load_tokenizer("e5-small")  # a tokenizer nothing has fingerprinted yet
        t0 = time.perf_counter()
        tokenizer_fingerprint(fresh)
        fingerprint_first = time.perf_counter() - t0
        t0 = time.perf_counter()
        tokenizer_fingerprint(fresh)
        fingerprint_again = time.perf_counter() - t0
        del fresh
        cache = feature_cache(tokenizer, args.repeats, args.smoke)

        cfg = grid_config(Path(tmp) / "runs", args.quick, args.smoke)
        cfg_path = Path(tmp) / "grid.yaml"
        cfg_path.write_text(yaml.safe_dump(cfg))
        first = run_grid(cfg_path)
        rerun = run_grid(cfg_path)

    figures = [
        figure("tokenizer_fingerprint, first call on a tokenizer", 1e3 * fingerprint_first, "ms"),
        figure(
            "tokenizer_fingerprint, repeated call (each featurize makes one)", 1e3 * fingerprint_again, "ms"
        ),
    ]
    targets = []
    cold = sum(r["cold"] for r in cache.values())
    warm = sum(r["warm"] for r in cache.values())
    warm_memo = sum(r["warm_memo"] for r in cache.values())
    load = sum(r["load"] for r in cache.values())
    for name, r in cache.items():
        figures += [
            figure(f"featurize cold, {name}", r["cold"], "s"),
            figure(f"featurize warm, {name}", r["warm"], "s"),
            figure(f"load_split (read + parse + checksum), {name}", r["load"], "s"),
            figure(f"warm ÷ cold speed-up, {name}", r["cold"] / r["warm"], "×"),
            figure(f"warm ÷ cold, fingerprint once (what-if), {name}", r["cold"] / r["warm_memo"], "×"),
        ]
    figures += [
        figure("featurize cold, all splits", cold, "s"),
        figure("featurize warm, all splits", warm, "s"),
        figure("featurize warm, fingerprint computed once (what-if), all splits", warm_memo, "s"),
        figure("warm ÷ cold, fingerprint once (what-if), all splits", cold / warm_memo, "×"),
        figure("load_split (read + parse + checksum), all splits", load, "s"),
        figure("prepare (load + featurize) cold ÷ warm", (load + cold) / (load + warm), "×"),
    ]
    targets += [
        target("featurize warm ÷ cold speed-up, all splits", cold / warm, 20, "×"),
        target(
            "prepare (load_split + featurize) warm ÷ cold speed-up", (load + cold) / (load + warm), 20, "×"
        ),
    ]

    arms, n_targets, seeds = len(cfg["arms"]), len(cfg["targets"]), len(cfg["seeds"])
    trained_arms = sum(1 for a in cfg["arms"] if a.get("tasks"))
    naive_intermediate = trained_arms * n_targets * seeds
    calls = first["featurize_calls_by_stage_kind"]
    # The naive loop has no prepare stage: every intermediate and target stage tokenises the splits it reads,
    # and each intermediate stage runs once per target.
    naive_tokenisations = calls["intermediate"] * n_targets + calls["target"]
    planned = first["planned_stages"] or {}
    figures += [
        figure("grid: arms × targets × seeds", f"{arms} × {n_targets} × {seeds}"),
        figure("grid: intermediate trainings (naive loop)", naive_intermediate),
        figure("grid: intermediate trainings (xstilts)", first["intermediate_trainings"]),
        figure("grid: target trainings", first["target_trainings"]),
        *[figure(f"grid: planned {kind} stages", n) for kind, n in planned.items()],
        figure("grid: tokenisations (naive loop: every stage tokenises)", naive_tokenisations),
        figure("grid: tokenisations (xstilts: feature-cache misses)", first["tokenisations"]),
        figure("grid: tasks tokenised by prepare stages", first["stage_method_calls"]["prepare"]),
        figure("grid re-run: trainings", rerun["intermediate_trainings"] + rerun["target_trainings"]),
        figure("grid re-run: tokenisations", rerun["tokenisations"]),
        figure("grid run time (tiny model)", first["seconds"], "s"),
        figure("grid re-run time", rerun["seconds"], "s"),
    ]
    raw = {"fingerprint_first_s": fingerprint_first, "fingerprint_again_s": fingerprint_again, "feature_cache": cache, "grid_config": cfg, "grid_first": first, "grid_rerun": rerun}  # fmt: skip
    emit("caching", args, figures, targets, raw)


if __name__ == "__main__":
    main()
