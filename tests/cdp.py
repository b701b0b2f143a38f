"""A small driver for headless Chromium over its DevTools protocol (websockets' sync client):
open a page, wait for its load event, evaluate JavaScript, take a screenshot, and record
console errors, uncaught exceptions and failed requests. Debian's `chromium` (or the browser
named by $SOVAI_CHROMIUM); playwright's own browser download is not needed."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

MISSING = ("headless Chromium is needed for the site's browser tests and was not found: "
           "install Debian's chromium (`apt-get install -y chromium`; .ci/run does) or set "
           "SOVAI_CHROMIUM to a Chromium executable")


def find_chromium() -> str | None:
    named = os.environ.get("SOVAI_CHROMIUM")
    if named:
        return named if Path(named).is_file() else None
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)


class Browser:
    """One headless Chromium and one tab; `problems` collects what a page got wrong."""

    def __init__(self, executable: str, timeout: float = 30) -> None:
        from websockets.sync.client import connect

        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="sovai-chromium-")
        args = [executable, "--headless", "--disable-gpu", "--no-first-run",
                "--disable-dev-shm-usage",  # containers give /dev/shm little room
                "--remote-debugging-port=0", f"--user-data-dir={self.profile}",
                "--window-size=1200,900", "--hide-scrollbars", "about:blank"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses root without it
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        self.ids = itertools.count(1)
        self.problems: list[str] = []
        self.events: list[dict] = []
        self.stack = contextlib.ExitStack()
        self.ws = self.stack.enter_context(connect(self._page_socket(), max_size=None,
                                                   open_timeout=timeout))
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")

    def _page_socket(self) -> str:
        """The websocket of the tab Chromium opened, once DevToolsActivePort names its port."""
        from urllib.request import urlopen

        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while not port_file.is_file() or not port_file.read_text().strip():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromium did not start (exit {self.process.poll()})")
            time.sleep(0.05)
        port = port_file.read_text().split()[0]
        with urlopen(f"http://127.0.0.1:{port}/json/list", timeout=self.timeout) as response:
            targets = json.load(response)
        return next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"]

    def send(self, method: str, **params) -> dict:
        """Call a DevTools method and return its result; events met meanwhile are kept."""
        call = next(self.ids)
        self.ws.send(json.dumps({"id": call, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=self.timeout))
            if message.get("id") == call:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def _event(self, message: dict) -> None:
        self.events.append(message)
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.problems.append("console: " + " ".join(
                str(a.get("value", a.get("description"))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            self.problems.append("exception: " + params["exceptionDetails"].get("text", ""))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.problems.append(f"log: {params['entry']['text']} {params['entry'].get('url')}")
        elif method == "Network.loadingFailed":
            self.problems.append(f"request failed: {params.get('errorText')}")
        elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
            self.problems.append(f"HTTP {params['response']['status']}: "
                                 f"{params['response']['url']}")

    def open(self, url: str) -> list[str]:
        """Load `url` and wait for its load event; the problems of this load."""
        self.problems, self.events = [], []
        self.send("Page.navigate", url=url)
        deadline = time.monotonic() + self.timeout
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url}: no load event in {self.timeout} s")
            self._event(json.loads(self.ws.recv(timeout=self.timeout)))
        self.evaluate("1")  # drain what arrived with the load
        return list(self.problems)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (awaited if a promise)."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, max_height: int = 8000) -> Path:
        """The page beyond the viewport (up to `max_height` CSS pixels) as a PNG."""
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"],
                "height": min(size["height"], max_height), "scale": 1}
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip=clip)
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    def close(self) -> None:
        try:
            self.stack.close()
        finally:
            self.process.terminate()
            self.process.wait(timeout=10)
            shutil.rmtree(self.profile, ignore_errors=True)
