"""Where things live: the sample/shared data, the XTREME data folder, the user cache."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_ROOT.parent.parent  # meaningful for an editable install / source checkout only


def cache_dir() -> Path:
    """User cache for converted models and tokenised features (``XSTILTS_CACHE_DIR`` overrides)."""
    env = os.environ.get("XSTILTS_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "xstilts"


def shared_dir() -> Path | None:
    """The workplace's shared sample data: ``XSTILTS_SHARED_DIR``, else a ``shared/`` folder next to the
    checkout or next to any folder above it (so clones one level deeper still find it)."""
    if os.environ.get("XSTILTS_SHARED_DIR"):
        candidates = [Path(os.environ["XSTILTS_SHARED_DIR"]).expanduser()]
    else:
        starts = [REPO_ROOT, Path.cwd()]
        candidates = [d / "shared" for start in starts for d in (start, *start.parents)]
    for c in candidates:
        if (c / "xtreme").is_dir() or (c / "intermediate").is_dir():
            return c.resolve()
    return None


def default_xtreme_dir() -> Path | None:
    """``XSTILTS_DATA_DIR`` (an XTREME ``download``+``labels`` root), else the shared sample."""
    env = os.environ.get("XSTILTS_DATA_DIR")
    if env:
        return Path(env).expanduser()
    s = shared_dir()
    return s / "xtreme" if s else None


def default_intermediate_dir() -> Path | None:
    """``XSTILTS_INTERMEDIATE_DIR``, else the shared sample of intermediate tasks."""
    env = os.environ.get("XSTILTS_INTERMEDIATE_DIR")
    if env:
        return Path(env).expanduser()
    s = shared_dir()
    return s / "intermediate" if s else None
