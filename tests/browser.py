"""A headless Chromium driven through the DevTools protocol (CDP), for the HTML page tests.

Why our own few lines and not Playwright: Debian's chromium is what CI installs, the protocol is a
JSON-over-websocket API, and ``websockets`` is already installed (Prefect needs it); a scripted click,
typed text and a screenshot are all the tests need.

Chromium is started with ``--remote-debugging-port=0`` and writes the port it chose into
``DevToolsActivePort`` in its profile directory; one page target is attached in "flat" mode, so every
command carries its ``sessionId``.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--window-size=1400,900",
    "--enable-logging=stderr",
    "--v=0",
]


def require_chromium() -> str:
    """The chromium binary; skips the test without it, unless STACKPLAN_REQUIRE_CHROMIUM=1 (CI)."""
    if CHROMIUM is None:
        if os.environ.get("STACKPLAN_REQUIRE_CHROMIUM") == "1":
            pytest.fail("chromium is required (STACKPLAN_REQUIRE_CHROMIUM=1) but not installed")
        pytest.skip("chromium not installed")
    return CHROMIUM


class Browser:
    """One headless Chromium with one page. Use as a context manager."""

    def __init__(self, chromium: str, profile: Path) -> None:
        profile.mkdir(parents=True, exist_ok=True)
        self._log = (profile / "chromium.log").open("wb")
        self._proc = subprocess.Popen(
            [chromium, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            env={**os.environ, "HOME": str(profile)},
        )
        self.log_path = profile / "chromium.log"
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"chromium did not start: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        self._ws = connect(f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=30)
        self._ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        ws = getattr(self, "_ws", None)
        if ws is not None:
            ws.close()
        self._proc.terminate()
        try:
            self._proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._log.close()

    def _call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        msg_id = next(self._ids)
        msg: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self._ws.send(json.dumps(msg))
        while True:
            reply = json.loads(self._ws.recv(timeout=120))
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def send(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """One CDP command to the page."""
        return self._call(method, params, self._session)

    def goto(self, url: str, timeout: float = 120) -> None:
        """Navigate and wait for the page's load event (its inline scripts have run by then)."""
        seen = len(self.events)
        self.send("Page.navigate", {"url": url})
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events[seen:]):
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not load in {timeout} s")
            self.events.append(json.loads(self._ws.recv(timeout=timeout)))

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page (an exception fails the test)."""
        result = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 120) -> Any:
        """Poll ``expression`` until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {expression}")
            time.sleep(0.1)

    def click(self, x: float, y: float) -> None:
        """A real left click at viewport coordinates (press and release)."""
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": x, "y": y, "button": "left", "buttons": 1, "clickCount": 1},
            )

    def type_text(self, text: str) -> None:
        """Text typed into the focused element, as a keyboard would."""
        self.send("Input.insertText", {"text": text})

    def screenshot(self, path: Path) -> bytes:
        data = base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])
        path.write_bytes(data)
        return data

    def console_errors(self) -> list[str]:
        """Uncaught exceptions and console/log errors the page reported so far."""
        out = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                out.append(json.dumps(params.get("exceptionDetails", {}))[:500])
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                out.append(json.dumps(params.get("args", []))[:500])
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                out.append(params["entry"].get("text", ""))
        return out
