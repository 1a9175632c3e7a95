"""The results database as a tidy long table: one row per metric value with its full key
(model, arm, target, language, metric, seed, settings hash, split) — the input of every analysis."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from xstilts.errors import XstiltsError
from xstilts.results.db import as_dicts, read_results

COLUMNS = ("model", "arm", "target", "language", "metric", "seed", "settings_hash", "split", "value", "run_id",
           "stage")  # fmt: skip


def results_table(db: Path) -> pa.Table:
    if not db.exists():
        raise XstiltsError(f"{db}: no results database (run the configuration first)")
    rows = as_dicts(read_results(db))
    return (
        pa.table({c: [r[c] for r in rows] for c in COLUMNS}) if rows else pa.table({c: [] for c in COLUMNS})
    )


def export_table(db: Path, fmt: str, out: Path) -> Path:
    table = results_table(db)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        pacsv.write_csv(table, out)
    elif fmt == "parquet":
        pq.write_table(table, out)
    else:
        raise XstiltsError(f"--format: {fmt!r} is not one of csv, parquet")
    return out
