"""Task formats: each is one small handler (featuriser + head + loss + decoder + metric + writer) shared by
every task of that format. Tasks never get classes of their own."""

from __future__ import annotations

from xstilts.errors import UnknownNameError
from xstilts.formats.base import FormatHandler

_HANDLERS: dict[str, str] = {
    "classification": "xstilts.formats.classification:ClassificationFormat",
    "tagging": "xstilts.formats.tagging:TaggingFormat",
    "span_qa": "xstilts.formats.span_qa:SpanQAFormat",
    "multiple_choice": "xstilts.formats.multiple_choice:MultipleChoiceFormat",
    "mlm": "xstilts.formats.mlm:MLMFormat",
}


def get_format(name: str) -> FormatHandler:
    import importlib

    if name not in _HANDLERS:
        raise UnknownNameError("trainable format", name, list(_HANDLERS))
    module, _, cls = _HANDLERS[name].partition(":")
    return getattr(importlib.import_module(module), cls)()


__all__ = ["FormatHandler", "get_format"]
