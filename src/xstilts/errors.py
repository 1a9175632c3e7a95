"""Error types. Every error that comes from user input names the file, line or field at fault."""

from __future__ import annotations

from pathlib import Path


class XstiltsError(Exception):
    """Base class: an error the user can act on. The CLI prints these without a traceback."""


class DataError(XstiltsError):
    """Malformed or missing data, located as precisely as we can (file, line, field)."""

    def __init__(
        self, path: str | Path | None, message: str, line: int | None = None, field: str | None = None
    ):
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        self.message = message
        where = self.path or "<data>"
        if line is not None:
            where += f":{line}"
        if field is not None:
            where += f" [{field}]"
        super().__init__(f"{where}: {message}")


class ConfigError(XstiltsError):
    """An invalid configuration; the message names the field path."""


class ModelError(XstiltsError):
    """A model that cannot be found, loaded or converted."""


class UnknownNameError(XstiltsError):
    """An unknown task, language, metric or other registry name."""

    def __init__(self, kind: str, name: str, known: list[str] | tuple[str, ...]):
        import difflib

        hint = difflib.get_close_matches(name, list(known), n=3)
        msg = f"unknown {kind} {name!r}"
        if hint:
            msg += f"; did you mean {', '.join(map(repr, hint))}?"
        else:
            msg += f"; known: {', '.join(sorted(known))}"
        super().__init__(msg)
        self.kind, self.name = kind, name
