"""Headless Chromium driven through the DevTools protocol over a pipe (``--remote-debugging-pipe``: fd 3
in, fd 4 out, NUL-separated JSON): no port, no websocket library, no Selenium.

``open_page`` loads a file with the network off (DevTools' offline emulation, and a proxy on a closed
loopback port for anything the browser itself would fetch) and records every request the page made,
every console message and every error the browser logged.
"""
from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageVisit:
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    console: list[tuple[str, str]] = field(default_factory=list)  # (level, text) of console calls
    errors: list[str] = field(default_factory=list)  # exceptions and the browser's error log entries
    evaluated: Any = None  # what the probe expression returned
    screenshot: bytes = b""  # PNG of the whole page
    pdf: bytes = b""  # the page printed (print media)


class DevTools:
    """One Chromium process and the DevTools session of one page."""

    def __init__(self, binary: str, timeout: float = 60.0):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="tierwise-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def fds() -> None:  # in the child: the protocol's pipe on fds 3 and 4
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.proc = subprocess.Popen(
            [binary, "--headless", "--disable-gpu", "--no-sandbox", "--remote-debugging-pipe",
             f"--user-data-dir={self.profile}", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-default-apps", "--no-first-run", "--no-default-browser-check", "--mute-audio",
             "--hide-scrollbars", "about:blank"],
            pass_fds=(3, 4), preexec_fn=fds, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    # ---- the protocol --------------------------------------------------------------------------------
    def _read(self, until: Any, timeout: float | None = None) -> dict[str, Any] | None:
        end = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            while b"\0" in self._buf:
                raw, _, self._buf = self._buf.partition(b"\0")
                msg = json.loads(raw)
                if until(msg):
                    return msg
                self.events.append(msg)
            left = end - time.monotonic()
            if left <= 0:
                if timeout is not None:
                    return None
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._from_browser], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise EOFError(f"Chromium closed the DevTools pipe (exit code {self.proc.poll()})")
                self._buf += chunk

    def call(self, method: str, params: dict[str, Any] | None = None, page: bool = True) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if page and self.session:
            msg["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        answer = self._read(lambda m, i=self._id: m.get("id") == i)
        assert answer is not None
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def wait_event(self, method: str) -> dict[str, Any]:
        for i, e in enumerate(self.events):
            if e.get("method") == method:
                return self.events.pop(i)
        found = self._read(lambda m: m.get("method") == method)
        assert found is not None
        return found

    def settle(self, seconds: float) -> None:
        """Collect the events that arrive within ``seconds``."""
        self._read(lambda m: False, timeout=seconds)

    def close(self) -> None:
        try:
            self.call("Browser.close", page=False)
            self.proc.wait(10)
        except Exception:  # noqa: BLE001 - a browser that will not close is killed (this process only)
            self.proc.kill()
            self.proc.wait(10)
        finally:
            for fd in (self._to_browser, self._from_browser):
                try:
                    os.close(fd)
                except OSError:
                    pass
            shutil.rmtree(self.profile, ignore_errors=True)


def open_page(binary: str, path: Path, probe: str = "null", width: int = 1280) -> PageVisit:
    """Load ``path`` offline, run the ``probe`` expression (its JSON value is returned), take a full-page
    screenshot and print the page to PDF."""
    dt = DevTools(binary)
    try:
        target = dt.call("Target.createTarget", {"url": "about:blank"}, page=False)
        dt.session = dt.call("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True},
                             page=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            dt.call(f"{domain}.enable")
        dt.call("Network.emulateNetworkConditions", {"offline": True, "latency": 0, "downloadThroughput": -1,
                                                     "uploadThroughput": -1})
        dt.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": 900, "deviceScaleFactor": 1,
                                                       "mobile": False})
        dt.call("Page.navigate", {"url": path.resolve().as_uri()})
        dt.wait_event("Page.loadEventFired")
        dt.settle(0.5)
        visit = PageVisit()
        result = dt.call("Runtime.evaluate", {"expression": f"JSON.stringify({probe})", "returnByValue": True})
        if "exceptionDetails" in result:
            visit.errors.append(f"probe failed: {result['exceptionDetails']}")
        else:
            visit.evaluated = json.loads(result["result"]["value"])
        metrics = dt.call("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        shot = dt.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                  "clip": {"x": 0, "y": 0, "width": size["width"],
                                                           "height": size["height"], "scale": 1}})
        visit.screenshot = base64.b64decode(shot["data"])
        visit.pdf = base64.b64decode(dt.call("Page.printToPDF", {"printBackground": True})["data"])
        dt.settle(0.2)
        for e in dt.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Network.requestWillBeSent":
                visit.requests.append(params["request"]["url"])
            elif method == "Runtime.consoleAPICalled":
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
                visit.console.append((params.get("type", ""), text))
            elif method == "Runtime.exceptionThrown":
                visit.errors.append(str(params.get("exceptionDetails", {}).get("text", params)))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                visit.errors.append(params["entry"].get("text", ""))
        return visit
    finally:
        dt.close()
