"""Readers for the original formats of the intermediate tasks (GLUE TSV, SQuAD JSON, JSONL, CoNLL, …) and hub
row mappers for their Hugging Face copies. Importing this package registers them all (``@reader``/``@hub_mapper``).

Readers accept the registry's ``gold`` argument but never use it: intermediate files carry their own labels.
"""

from xstilts.data.intermediate import (  # noqa: F401  (registration)
    choice,
    classification,
    composite,
    hub,
    qa,
    tagging,
    text,
)
