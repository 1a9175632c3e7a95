"""Results database: one row per (model, arm, target, language, metric, seed, settings) in SQLite (WAL mode,
safe with concurrent writers). Writes are idempotent: re-recording a key replaces its row, never duplicates it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from xstilts import faults

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    config TEXT NOT NULL,
    provenance TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    model TEXT NOT NULL,
    arm TEXT NOT NULL,
    target TEXT NOT NULL,
    language TEXT NOT NULL,
    metric TEXT NOT NULL,
    seed INTEGER NOT NULL,
    settings_hash TEXT NOT NULL,
    split TEXT NOT NULL,
    value REAL,
    run_id TEXT NOT NULL,
    stage TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    PRIMARY KEY (model, arm, target, language, metric, seed, settings_hash, split)
);
"""


@dataclass(frozen=True)
class ResultRow:
    model: str
    arm: str
    target: str
    language: str
    metric: str
    seed: int
    settings_hash: str
    split: str
    value: float | None  # None: the metric is not computable (no gold)
    run_id: str = ""
    stage: str = ""


def connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(path), timeout=60.0, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.executescript(SCHEMA)
    return con


def record_run(path: Path, run_id: str, config: dict, provenance: dict) -> None:
    con = connect(path)
    try:
        con.execute(
            "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?)",
            (run_id, time.time(), json.dumps(config, sort_keys=True), json.dumps(provenance, sort_keys=True)),
        )
    finally:
        con.close()


def record_results(path: Path, rows: Iterable[ResultRow]) -> int:
    """Write rows in one transaction (all or nothing); returns how many were written."""
    rows = list(rows)
    con = connect(path)
    try:
        con.execute("BEGIN IMMEDIATE")
        now = time.time()
        con.executemany(
            "INSERT OR REPLACE INTO results (model, arm, target, language, metric, seed, settings_hash, split, "
            "value, run_id, stage, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    r.model,
                    r.arm,
                    r.target,
                    r.language,
                    r.metric,
                    r.seed,
                    r.settings_hash,
                    r.split,
                    r.value,
                    r.run_id,
                    r.stage,
                    now,
                )
                for r in rows
            ],
        )
        faults.point("record")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.close()
    return len(rows)


def read_results(path: Path) -> list[ResultRow]:
    con = connect(path)
    try:
        cur = con.execute(
            "SELECT model, arm, target, language, metric, seed, settings_hash, split, value, run_id, stage "
            "FROM results ORDER BY model, arm, target, language, metric, seed"
        )
        return [ResultRow(*row) for row in cur.fetchall()]
    finally:
        con.close()


def as_dicts(rows: Iterable[ResultRow]) -> list[dict]:
    return [asdict(r) for r in rows]
