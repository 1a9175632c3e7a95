"""Tokenised features cached on disk as Arrow IPC files (never pickle), keyed by everything that determines
them: data checksum, tokenizer fingerprint, format, label set and feature settings."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

from xstilts import faults
from xstilts.data.records import SplitData
from xstilts.formats import get_format
from xstilts.formats.base import Features, FeatureSettings
from xstilts.paths import cache_dir
from xstilts.tasks.spec import TaskSpec

FEATURES_VERSION = 1  # bump when a featuriser changes its output for the same inputs


def tokenizer_fingerprint(tokenizer) -> str:
    """Hash of the full tokenizer pipeline (vocab, normaliser, pre-tokeniser, template) and special tokens.

    Serialising a 250k-piece vocabulary costs seconds, so the hash is remembered on the tokenizer object,
    valid while its size (added tokens) stays the same.
    """
    memo = getattr(tokenizer, "_xstilts_fingerprint", None)
    if memo is not None and memo[0] == len(tokenizer):
        return memo[1]
    fp = _fingerprint(tokenizer)
    with contextlib.suppress(
        AttributeError
    ):  # a tokenizer refusing attributes is just hashed again next time
        tokenizer._xstilts_fingerprint = (len(tokenizer), fp)
    return fp


def _fingerprint(tokenizer) -> str:
    pipeline = json.loads(tokenizer.backend_tokenizer.to_str())
    # Truncation/padding state is left behind by the last call, not part of the tokenizer: keep it out of the key.
    pipeline.pop("truncation", None)
    pipeline.pop("padding", None)
    h = hashlib.sha256(json.dumps(pipeline, sort_keys=True).encode())
    h.update(json.dumps(sorted(map(str, tokenizer.all_special_tokens))).encode())
    return h.hexdigest()[:24]


def feature_key(data: SplitData, spec: TaskSpec, tok_fp: str, settings: FeatureSettings) -> str:
    blob = json.dumps(
        {
            "v": FEATURES_VERSION,
            "task": spec.name,
            "format": spec.format,
            "pair": spec.pair,
            "labels": list(spec.labels),
            "split": data.split,
            "language": data.language,
            "data": data.checksum,
            "n": len(data.examples),
            "tokenizer": tok_fp,
            "settings": settings.key(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _write_atomic(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh, ipc.new_file(fh, table.schema) as writer:
            writer.write_table(table)
        os.replace(tmp, path)  # readers never see a half-written cache file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read(path: Path) -> Features:
    with pa.memory_map(str(path)) as source:
        return ipc.open_file(source).read_all().to_pydict()


def featurize(
    data: SplitData, spec: TaskSpec, tokenizer, settings: FeatureSettings, cache: Path | None = None
) -> tuple[Features, bool]:
    """Features of one split, from the cache when present. Returns (features, cache_hit)."""
    root = (cache or cache_dir()) / "features"
    path = (
        root
        / f"{spec.name}-{data.split}-{data.language}-{feature_key(data, spec, tokenizer_fingerprint(tokenizer), settings)}.arrow"
    )
    if path.exists():
        return _read(path), True
    features = get_format(spec.format).featurize(data.examples, tokenizer, spec, settings)
    faults.point("tokenize")
    _write_atomic(pa.table(features), path)
    return features, False
