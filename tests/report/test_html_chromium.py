"""Open the HTML report in headless Chromium (Debian's ``chromium`` package) over the DevTools protocol and check
that it renders offline: no console error or exception, and every image decoded with a real size."""

from __future__ import annotations

import json
import queue
import re
import shutil
import subprocess
import threading
import time
import urllib.request

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
TIMEOUT = 60.0


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


class Browser:
    """A headless Chromium process (started and ended here) and one CDP session to its first page."""

    def __init__(self, binary: str, profile: str):
        self.proc = subprocess.Popen(
            [binary, "--headless=new", "--remote-debugging-port=0", "--remote-allow-origins=*", "--no-sandbox",
             "--disable-gpu", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--disable-crash-reporter", "--disable-breakpad",
             f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.stderr: list[str] = []
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, args=(lines,), daemon=True).start()
        deadline = time.monotonic() + TIMEOUT
        port = None
        while port is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            if m := re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line):
                port = int(m.group(1))
        if port is None:
            self.close()
            raise RuntimeError("chromium printed no DevTools URL:\n" + "".join(self.stderr[-20:]))
        self.ws = self._connect_page(port)
        self.next_id = 0
        self.events: list[dict] = []

    def _pump(self, lines: queue.Queue) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)
            lines.put(line)

    def _connect_page(self, port: int):
        import websocket

        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
                pages = [t for t in json.load(resp) if t.get("type") == "page"]
            if pages:
                return websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=TIMEOUT)
            time.sleep(0.2)
        raise RuntimeError("chromium opened no page target")

    def send(self, method: str, **params) -> dict:
        """Send a command and wait for its reply, keeping the events that arrive meanwhile."""
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method: str) -> dict:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            for e in self.events:
                if e.get("method") == method:
                    return e
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError(method)

    def close(self) -> None:
        if getattr(self, "ws", None) is not None:
            self.ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def problems(events: list[dict]) -> list[str]:
    """Console errors, uncaught exceptions and browser log errors (e.g. a resource that failed to load)."""
    out = []
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            out.append(
                "console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
            )
        elif method == "Runtime.exceptionThrown":
            out.append("exception: " + json.dumps(params.get("exceptionDetails", {}))[:500])
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            out.append(f"log: {entry.get('text')} {entry.get('url', '')}")
    return out


def test_html_report_renders_in_chromium(written_report, tmp_path):
    binary = find_browser()
    if binary is None:
        pytest.skip("no chromium binary on PATH (Debian: apt-get install chromium); .ci/run installs it")
    browser = Browser(binary, str(tmp_path / "profile"))
    try:
        for domain in ("Runtime", "Log", "Page"):
            browser.send(f"{domain}.enable")
        browser.send("Page.navigate", url=written_report["html"].resolve().as_uri())
        browser.wait_for("Page.loadEventFired")
        result = browser.send(
            "Runtime.evaluate",
            expression=(
                "Promise.all(Array.from(document.images).map(i => i.decode().catch(() => null))).then(() => ({"
                " n: document.images.length,"
                " loaded: Array.from(document.images).every(i => i.complete && i.naturalWidth > 0),"
                " widths: Array.from(document.images).map(i => i.naturalWidth),"
                " tables: document.querySelectorAll('table').length,"
                " title: document.title }))"
            ),
            awaitPromise=True,
            returnByValue=True,
        )
        value = result["result"]["value"]
        browser.send("Runtime.evaluate", expression="1")  # flush events that arrived after the load
    finally:
        browser.close()
    assert value["n"] == 3, value
    assert value["loaded"], value
    assert all(w > 100 for w in value["widths"]), value
    assert value["tables"] >= 5 and value["title"].startswith("X-STILTs report")
    assert problems(browser.events) == []
