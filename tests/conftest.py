"""Shared fixtures. Integration tests read the workplace's real sample data (never copied into the repo)."""

from __future__ import annotations

import os
from pathlib import Path

# Tests never reach the Hugging Face hub. Set before anything imports huggingface_hub, which reads these once.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest  # noqa: E402

from xstilts.paths import shared_dir  # noqa: E402


@pytest.fixture(scope="session")
def shared() -> Path:
    d = shared_dir()
    if d is None:
        pytest.fail(
            "the sample data folder ../shared (xtreme/, intermediate/) was not found next to the checkout; "
            "set XSTILTS_SHARED_DIR to it"
        )
    return d


@pytest.fixture(scope="session")
def xtreme_dir(shared: Path) -> Path:
    return shared / "xtreme"


@pytest.fixture(scope="session")
def intermediate_dir(shared: Path) -> Path:
    return shared / "intermediate"
