import sqlite3
import threading

import pytest

from xstilts.results.db import ResultRow, connect, read_results, record_results, record_run


def row(**kw):
    base = dict(model="e5-small", arm="mnli", target="xnli", language="de", metric="accuracy", seed=1,
                settings_hash="abc", split="test", value=50.0)  # fmt: skip
    base.update(kw)
    return ResultRow(**base)


def test_rows_roundtrip_and_rerecord_replaces(tmp_path):
    db = tmp_path / "r.sqlite"
    record_run(db, "demo", {"name": "demo"}, {"torch": "x"})
    assert record_results(db, [row(), row(language="zh", value=40.0)]) == 2
    record_results(db, [row(value=55.0)])  # same key: replaced, not duplicated
    rows = read_results(db)
    assert len(rows) == 2
    assert {(r.language, r.value) for r in rows} == {("de", 55.0), ("zh", 40.0)}
    con = connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_not_computable_metric_is_null(tmp_path):
    db = tmp_path / "r.sqlite"
    record_results(db, [row(value=None)])
    assert read_results(db)[0].value is None


def test_a_failing_transaction_writes_nothing(tmp_path):
    db = tmp_path / "r.sqlite"
    bad = [row(), row(language=None)]  # NOT NULL violation on the second row
    with pytest.raises(sqlite3.IntegrityError):
        record_results(db, bad)
    assert read_results(db) == []


def test_concurrent_writers(tmp_path):
    db = tmp_path / "r.sqlite"
    connect(db).close()

    def write(k):
        record_results(db, [row(seed=k, language=f"l{i}") for i in range(50)])

    threads = [threading.Thread(target=write, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(read_results(db)) == 300
