"""File access shared by the intermediate readers: every failure becomes a DataError naming file and line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from xstilts.errors import DataError

logger = logging.getLogger("xstilts.data.intermediate")


def read_text(path: Path) -> str:
    """The file decoded as UTF-8 (a BOM is dropped); bad bytes and empty files are DataErrors."""
    text = decode_utf8(path)
    if not text.strip():
        raise DataError(path, "file is empty")
    return text


def decode_utf8(path: Path) -> str:
    """The file decoded as UTF-8 (a BOM is dropped); unreadable files and bad bytes are DataErrors."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(path, f"cannot read file: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            path, f"not valid UTF-8 (byte {raw[exc.start]:#04x} at offset {exc.start})", line=line
        ) from exc
    return text


def split_lines(text: str) -> list[str]:
    """Physical lines without their ends. ``str.splitlines`` would also split on U+2028 etc. inside fields."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def load_json(path: Path) -> Any:
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(path, f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno) from exc


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; a line that is not a JSON object is a DataError."""
    for lineno, line in enumerate(split_lines(read_text(path)), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(path, f"invalid JSON: {exc.msg} (column {exc.colno})", line=lineno) from exc
        if not isinstance(obj, dict):
            raise DataError(path, f"expected a JSON object, got {type(obj).__name__}", line=lineno)
        yield lineno, obj


def field(obj: Mapping, key: str, path: Path | str, *, line: int | None = None, where: str = "") -> Any:
    """``obj[key]``, or a DataError naming the missing field (``where`` prefixes it: ``data[3].qas[0]``)."""
    if not isinstance(obj, Mapping):
        raise DataError(path, f"expected an object, got {type(obj).__name__}", line=line, field=where or None)
    if key not in obj:
        raise DataError(path, f"missing field {key!r}", line=line, field=f"{where}.{key}" if where else key)
    return obj[key]


def text_field(obj: Mapping, key: str, path: Path | str, *, line: int | None = None, where: str = "") -> str:
    value = field(obj, key, path, line=line, where=where)
    if not isinstance(value, str):
        name = f"{where}.{key}" if where else key
        raise DataError(path, f"expected a string, got {type(value).__name__}", line=line, field=name)
    return value


def check_label(
    raw: str,
    *,
    labels: Sequence[str],
    label_map: Mapping[str, str] | None,
    path: Path | str,
    line: int | None = None,
    where: str | None = None,
) -> str:
    """Map a raw label (``label_map``) and check it against the task's label set (when the spec has one)."""
    label = label_map.get(raw, raw) if label_map else raw
    if labels and label not in labels:
        shown = f"{raw!r} (mapped to {label!r})" if label != raw else repr(raw)
        raise DataError(
            path, f"unknown label {shown}; expected one of {list(labels)}", line=line, field=where
        )
    return label


def select_range(items: Sequence, span: Sequence[int] | None, path: Path, what: str) -> tuple[int, Sequence]:
    """``(offset, items[first-1:last])`` for a 1-based inclusive ``[first, last]`` span (None: everything)."""
    if span is None:
        return 0, items
    if len(span) != 2 or not 1 <= span[0] <= span[1]:
        raise DataError(path, f"option must be [first, last] with 1 <= first <= last, got {list(span)}")
    first, last = span
    if last > len(items):
        raise DataError(path, f"asked for {what} {first}-{last} but the file has only {len(items)}")
    return first - 1, items[first - 1 : last]


def log_dropped(path: Path, count: int, what: str) -> None:
    """Rows left out by an explicit option are reported, never dropped silently."""
    if count:
        logger.warning("%s: dropped %d %s", path, count, what)
