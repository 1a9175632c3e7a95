"""Whether the Hugging Face hub can be reached, decided once per process.

Without this, a compute node with no network sits in ``huggingface_hub``'s retry back-off for minutes per
dataset. The answer is "offline" when ``HF_HUB_OFFLINE`` / ``HF_DATASETS_OFFLINE`` say so, else when one HEAD
request to the hub endpoint gets no answer within ``XSTILTS_HUB_TIMEOUT`` seconds (default 5); the first hub
load that fails with a connection error also settles it. Every later hub load in
the process then fails at once with a message naming the task and where its local files go.
"""

from __future__ import annotations

import os
import socket
import urllib.error
import urllib.request

TRUE_VALUES = ("1", "true", "yes", "on")
DEFAULT_TIMEOUT_S = 5.0
DEFAULT_ENDPOINT = "https://huggingface.co"

_state: dict[str, str | None] = {}  # "reason": why the hub is unreachable (None: reachable), once known


def _env_offline() -> str | None:
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        if os.environ.get(name, "").strip().lower() in TRUE_VALUES:
            return f"{name}={os.environ[name]} is set"
    return None


def _timeout() -> float:
    raw = os.environ.get("XSTILTS_HUB_TIMEOUT", "")
    try:
        return float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        return DEFAULT_TIMEOUT_S


def _probe() -> str | None:
    """One HEAD request to the hub endpoint (through the HTTPS proxy when one is set, as the hub client would):
    any HTTP answer means reachable; a refused, unresolved, silent or TLS-failing connection does not."""
    endpoint = os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT)
    timeout = _timeout()
    try:
        with urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=timeout):
            return None
    except urllib.error.HTTPError:  # an answer, even 4xx/5xx: the hub is there
        return None
    except (OSError, ValueError) as exc:  # URLError, timeouts, TLS errors are OSErrors
        return f"{endpoint} did not answer within {timeout:g} s ({getattr(exc, 'reason', exc)})"


def hub_offline_reason() -> str | None:
    """Why the hub cannot be used in this process, or ``None`` when it can (probed at most once)."""
    env = _env_offline()
    if env is not None:
        return env
    if "reason" not in _state:
        _state["reason"] = _probe()
    return _state["reason"]


def mark_offline(reason: str) -> None:
    """A hub load failed to connect: no later load in this process tries again."""
    _state["reason"] = reason


def forget() -> None:
    """Probe again on the next call (tests; a long-lived process whose network came back)."""
    _state.clear()


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a failure to reach the network, not a missing dataset or bug."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        name = type(exc).__name__
        if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror) or name in (
            "ConnectError",
            "ConnectTimeout",
            "ConnectionError",
            "OfflineModeIsEnabled",
            "LocalEntryNotFoundError",
        ):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
