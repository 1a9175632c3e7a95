"""No command waits on a network that is not there: offline is decided once per process (environment, one
short connection probe, or the first failed hub load) and every hub load then fails at once, naming the task
and where its local files go."""

from __future__ import annotations

import http.server
import socket
import threading
import time

import datasets
import pytest

from xstilts.data import hub_access
from xstilts.data.loading import DataRoots, load_split
from xstilts.errors import XstiltsError
from xstilts.tasks import get_registry


@pytest.fixture
def online_env(monkeypatch, tmp_path):
    """The hub settings of a machine where nobody set HF_HUB_OFFLINE, and a fresh decision."""
    for name in (
        "HF_HUB_OFFLINE",
        "HF_DATASETS_OFFLINE",
        "HTTPS_PROXY",
        "https_proxy",
        "XSTILTS_HUB_TIMEOUT",
    ):
        monkeypatch.delenv(name, raising=False)
    hub_access.forget()
    yield DataRoots(tmp_path / "xtreme", tmp_path / "intermediate")  # empty: every task falls back to the hub
    hub_access.forget()


@pytest.fixture
def no_download(monkeypatch):
    calls = []
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: calls.append(a) or pytest.fail("hub load"))
    return calls


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


@pytest.fixture
def hub_answers(monkeypatch):
    """A local HTTP server standing in for a reachable hub endpoint (it answers every request with 404)."""
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    yield
    server.shutdown()
    server.server_close()


def test_environment_offline_fails_at_once_naming_task_and_local_file(online_env, monkeypatch, no_download):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(XstiltsError) as err:
        load_split(get_registry().get("bc5cdr"), "train", "en", online_env)
    message = str(err.value)
    assert "task 'bc5cdr' split 'train'" in message and "HF_HUB_OFFLINE=1 is set" in message
    assert f"put its file at {online_env.intermediate / 'bc5cdr/train.tsv'}" in message
    assert "tner/bc5cdr" in message and not no_download


def test_unreachable_hub_is_probed_once_then_every_load_fails_fast(online_env, monkeypatch, no_download):
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    probes = []
    real_probe = hub_access._probe
    monkeypatch.setattr(hub_access, "_probe", lambda: probes.append(1) or real_probe())
    t0 = time.perf_counter()
    for task in ("anli_r1", "hellaswag", "bc5cdr"):
        with pytest.raises(XstiltsError, match=rf"task '{task}' .*did not answer within 5 s"):
            load_split(get_registry().get(task), "train", "en", online_env)
    assert time.perf_counter() - t0 < 10 and len(probes) == 1 and not no_download


def test_a_silent_hub_is_given_up_after_the_timeout(online_env, monkeypatch, no_download):
    with socket.socket() as silent:  # accepts the connection (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{silent.getsockname()[1]}")
        monkeypatch.setenv("XSTILTS_HUB_TIMEOUT", "0.5")
        t0 = time.perf_counter()
        with pytest.raises(XstiltsError, match=r"did not answer within 0.5 s"):
            load_split(get_registry().get("anli_r1"), "train", "en", online_env)
    assert time.perf_counter() - t0 < 3


def test_first_failed_hub_load_settles_it(online_env, monkeypatch, hub_answers):
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise OSError("load failed") from ConnectionError("Connection refused")

    monkeypatch.setattr(datasets, "load_dataset", refuse)
    for task in ("anli_r1", "hellaswag"):
        with pytest.raises(XstiltsError, match=rf"task '{task}' .*cannot be used \(OSError while loading"):
            load_split(get_registry().get(task), "train", "en", online_env)
    assert len(calls) == 1  # the second task never went to the network


def test_other_hub_errors_are_not_taken_for_offline(online_env, monkeypatch, hub_answers):
    def no_such_config(*args, **kwargs):
        raise ValueError("no config")

    monkeypatch.setattr(datasets, "load_dataset", no_such_config)
    with pytest.raises(XstiltsError, match="could not load"):
        load_split(get_registry().get("anli_r1"), "train", "en", online_env)
    assert hub_access.hub_offline_reason() is None
