"""Helpers shared by the benchmarks: argument parsing, the machine description, the JSON result layout.

Every benchmark writes (with ``--json PATH``) one object::

    {"benchmark": name, "settings": {...}, "machine": {...},
     "figures": [{"name", "value", "unit"}], "targets": [{"name", "value", "threshold", "met"}], "raw": {...}}

``bench/run_all.py`` turns ``figures`` and ``targets`` into ``bench/results/latest.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent


def parser(doc: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short settings (noisier figures)")
    p.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, seconds: checks that the script runs end to end (the test suite does); measures nothing",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", type=Path, help="write the results here")
    return p


def encoder_name(args: argparse.Namespace) -> str:
    """The embedded e5-small; under ``--smoke`` the tiny random model (same vocabulary, built in no time)."""
    return "tiny" if args.smoke else "e5-small"


def quiet() -> None:
    """No progress bars or library chatter: the benchmark prints its own table."""
    os.environ.setdefault("XSTILTS_QUIET", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import datasets
        import transformers

        datasets.disable_progress_bars()
        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    import torch

    return {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "mkl": torch.backends.mkl.is_available(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "load_average": os.getloadavg(),  # other work on the machine: figures are noisier when this is high
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def data_roots():
    from xstilts.data.loading import DataRoots
    from xstilts.paths import default_intermediate_dir, default_xtreme_dir

    return DataRoots(default_xtreme_dir(), default_intermediate_dir())


def figure(name: str, value: float | int | None, unit: str = "") -> dict:
    return {"name": name, "value": value, "unit": unit}


def target(name: str, value: float | None, threshold: float, unit: str = "") -> dict:
    met = value is not None and value >= threshold
    return {"name": name, "value": value, "threshold": threshold, "unit": unit, "met": met}


def emit(
    name: str, args: argparse.Namespace, figures: list[dict], targets: list[dict], raw: dict | None = None
) -> None:
    """Print the figures (and targets) and write the JSON result when ``--json`` was given."""
    width = max(len(f["name"]) for f in figures + targets)
    print(f"\n== {name} ==")
    for f in figures:
        print(f"{f['name']:{width}s}  {fmt(f['value'])} {f['unit']}")
    for t in targets:
        flag = "met" if t["met"] else "MISSED"
        print(f"{t['name']:{width}s}  {fmt(t['value'])} {t['unit']} (target ≥ {fmt(t['threshold'])}: {flag})")
    if args.json:
        settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        payload = {
            "benchmark": name,
            "settings": settings,
            "machine": machine(),
            "figures": figures,
            "targets": targets,
            "raw": raw or {},
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2, default=str))


def fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool | str):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if value and abs(value) < 0.01:
        return f"{value:.1e}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def temp_cache(root: Path) -> Path:
    """An empty xstilts cache under ``root`` (for ``XSTILTS_CACHE_DIR``) that still sees the converted embedded
    model: its ``models`` folder links to the real one, so nothing is copied or converted again."""
    from xstilts.models.embedded import ensure_e5_small

    model_dir = ensure_e5_small()
    cache = root / "cache"
    cache.mkdir()
    (cache / "models").symlink_to(model_dir.parent, target_is_directory=True)
    return cache
