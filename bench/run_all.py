"""Run every benchmark, each in its own subprocess with ``--json``, and write ``bench/results/latest.json``
(every benchmark's full result) and ``bench/results/latest.md`` (the machine, then a table of every figure and
every target per benchmark).

    python bench/run_all.py [--quick] [--demo] [--only caching evaluation ...]
    python bench/run_all.py --smoke --out /tmp/bench-smoke   # seconds per benchmark: do they still run?
    python bench/run_all.py --render        # rebuild latest.md from latest.json

``--quick`` passes ``--quick`` to each benchmark (short settings, a few minutes each on 2 cores); ``--demo``
adds the demo run to the memory benchmark (about 8 minutes). Each benchmark's result is also kept in
``bench/results/parts/<name>.json`` as soon as it finishes; ``--resume`` reuses those, so an interrupted run
only repeats what is missing. A benchmark that fails is reported and the others still run; the exit status is
1 if any failed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from common import BENCH_DIR, fmt, machine

BENCHMARKS = ["train_throughput", "utilisation", "evaluation", "caching", "memory"]


def run(name: str, args, parts: Path) -> dict:
    out = parts / f"{name}.json"
    if args.resume and out.exists():
        print(f"\n### {name}: reusing {out}", flush=True)
        return json.loads(out.read_text())
    cmd = [sys.executable, str(BENCH_DIR / f"{name}.py"), "--json", str(out)]
    cmd += ["--quick"] if args.quick else []
    cmd += ["--smoke"] if args.smoke else []
    cmd += ["--demo"] if args.demo and name == "memory" else []
    print(f"\n### {name}: {' '.join(cmd[1:])}", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=sys.stdout, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0 or not out.exists():
        print(proc.stderr[-3000:], file=sys.stderr)
        return {"benchmark": name, "error": f"exit {proc.returncode}: {proc.stderr.strip()[-500:]}", "seconds": seconds}  # fmt: skip
    result = json.loads(out.read_text())
    result["seconds"] = seconds
    out.write_text(json.dumps(result, indent=2, default=str))
    return result


def markdown(summary: dict) -> str:
    m = summary["machine"]
    lines = [
        "# xstilts benchmarks",
        "",
        f"Run {m['time']}{' (--quick)' if summary['quick'] else ''}. Ratios compare contenders measured in the same "
        "process run; absolute figures move with other work on the machine (load average below).",
        "",
        "| machine | |",
        "|---|---|",
        f"| CPU | {m['cpu']} |",
        f"| cores (logical / usable) | {m['logical_cpus']} / {m['usable_cpus']} |",
        f"| torch | {m['torch']} (threads {m['torch_threads']}, inter-op {m['torch_interop_threads']}, MKL {m['mkl']}, oneDNN {m['mkldnn']}) |",  # fmt: skip
        f"| Python | {m['python']} |",
        f"| load average at start (1/5/15 min) | {' / '.join(f'{x:.2f}' for x in m['load_average'])} |",
        "",
    ]
    for name, res in summary["benchmarks"].items():
        lines += [f"## {name}", ""]
        if "error" in res:
            lines += [f"**failed** after {res['seconds']:.0f} s: `{res['error']}`", ""]
            continue
        load = res["machine"]["load_average"][0]
        when = res["machine"].get("time", "")  # --resume mixes runs: each benchmark says when it ran
        lines += [f"Run {when}: {res['seconds']:.0f} s wall; load average at its end {load:.2f}.", ""]
        lines += ["| figure | value | unit |", "|---|---:|---|"]
        lines += [f"| {f['name']} | {fmt(f['value'])} | {f['unit']} |" for f in res["figures"]]
        if res["targets"]:
            lines += ["", "| target | value | threshold | met |", "|---|---:|---:|---|"]
            lines += [
                f"| {t['name']} | {fmt(t['value'])} {t['unit']} | ≥ {fmt(t['threshold'])} {t['unit']} | {'yes' if t['met'] else '**no**'} |"  # fmt: skip
                for t in res["targets"]
            ]
        lines.append("")
    return "\n".join(lines)


def render(out: Path) -> None:
    """Rebuild the Markdown from a saved ``latest.json``; the training figures are re-derived from the raw
    best rounds, so a result saved by an older version of the script gets the current figure set."""
    from train_throughput import summarise

    summary = json.loads((out / "latest.json").read_text())
    tt = summary["benchmarks"].get("train_throughput", {})
    if tt.get("raw"):
        tt["figures"], tt["targets"] = summarise(tt["raw"])
    (out / "latest.json").write_text(json.dumps(summary, indent=2, default=str))
    (out / "latest.md").write_text(markdown(summary))
    print(f"rewrote {out / 'latest.md'}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short settings for every benchmark")
    p.add_argument(
        "--smoke", action="store_true", help="every benchmark at tiny sizes (checks they run; use with --out)"
    )
    p.add_argument("--demo", action="store_true", help="memory benchmark: also the demo (about 8 minutes)")
    p.add_argument("--only", nargs="+", choices=BENCHMARKS, default=BENCHMARKS)
    p.add_argument("--out", type=Path, default=BENCH_DIR / "results")
    p.add_argument(
        "--resume", action="store_true", help="reuse results/parts/<name>.json of an interrupted run"
    )
    p.add_argument(
        "--render", action="store_true", help="only rebuild latest.md (and figures) from latest.json"
    )
    args = p.parse_args()
    if args.render:
        render(args.out)
        return
    summary = {"machine": machine(), "quick": args.quick, "smoke": args.smoke, "demo": args.demo, "benchmarks": {}}
    parts = args.out / "parts"
    if parts.exists() and not args.resume:
        for old in parts.glob("*.json"):
            old.unlink()
    parts.mkdir(parents=True, exist_ok=True)
    for name in args.only:
        summary["benchmarks"][name] = run(name, args, parts)
    (args.out / "latest.json").write_text(json.dumps(summary, indent=2, default=str))
    (args.out / "latest.md").write_text(markdown(summary))
    print(f"\nwrote {args.out / 'latest.json'} and {args.out / 'latest.md'}")
    failed = [n for n, r in summary["benchmarks"].items() if "error" in r]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
