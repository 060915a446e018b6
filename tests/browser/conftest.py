"""Fixtures of the browser tests: a fresh `latchkey serve --demo` per test (own temporary data
directory, free ports) and Debian's headless Chromium driven by Playwright.

Nothing is downloaded: Chromium is /usr/bin/chromium (Debian's `chromium` package), Playwright
only talks to it. Without them the tests skip with the reason, except under CI=true, where a
missing browser is a failure (scripts/browser-tests.sh checks this before pytest starts).
"""

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("LATCHKEY_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("LATCHKEY_SCREENSHOTS", ROOT / "target" / "screenshots"))
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
PASSWORD = "linden-demo-2026"
RESIDENT = "ana.1a@linden-court.example"
GUEST = "walker@linden-court.example"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def binary():
    explicit = os.environ.get("LATCHKEY_BIN")
    if explicit:
        return explicit
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    for profile in ("release", "debug"):
        candidate = target / profile / "latchkey"
        if candidate.exists():
            return str(candidate)
    pytest.fail("no latchkey binary: set LATCHKEY_BIN or build it (scripts/browser-tests.sh does)")


class Server:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="latchkey-browser-")
        self.proc = subprocess.Popen(
            [
                binary(),
                "serve",
                "--demo",
                "--data-dir",
                os.path.join(self.dir, "data"),
                "--listen",
                "127.0.0.1:0",
                "--mqtt-listen",
                "127.0.0.1:0",
            ],
            stdout=subprocess.PIPE,
            stderr=open(os.path.join(self.dir, "server.log"), "wb"),
            text=True,
        )
        self.port = None
        self.mqtt = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if found:
                self.port = int(found.group(1))
            broker = re.search(r"mqtt broker on (mqtt://\S+)", line)
            if broker:
                self.mqtt = broker.group(1)
            if line.startswith("demo building") and self.port:
                break
        if not self.port:
            self.stop()
            pytest.fail("latchkey serve --demo did not start; see " + self.dir)
        # Pages load from localhost (not an IP): the browser's idea of the site must be a name.
        self.base = f"http://localhost:{self.port}"

    def sim(self, *args):
        """Acts at a virtual lock as a person there would (`latchkey sim ...`)."""
        subprocess.run(
            [binary(), "sim", args[0], "--mqtt-url", self.mqtt, *args[1:]],
            check=True,
            capture_output=True,
        )

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Visit:
    """A browser context on one server that records every request and every console message,
    so a test can assert that nothing went to another origin and no CSP violation happened."""

    def __init__(self, browser, server, viewport=PHONE):
        self.server = server
        self.context = browser.new_context(viewport=viewport)
        self.page = self.context.new_page()
        self.requests = []
        self.console = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.console.append(m.text))

    def go(self, path):
        self.page.goto(self.server.base + path)
        return self.page

    def sign_in(self, email, password=PASSWORD):
        self.go("/sign-in")
        self.page.fill("#email", email)
        self.page.fill("#password", password)
        self.page.click("form[action='/sign-in'] button[type=submit]")
        self.page.wait_for_load_state()

    def foreign_requests(self):
        return [u for u in self.requests if not u.startswith(self.server.base + "/")]

    def csp_violations(self):
        return [m for m in self.console if "Content Security Policy" in m]

    def screenshot(self, name):
        """The screen as a phone shows it (NAME.png) and the whole page (NAME-full.png)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}-full.png"), full_page=True)

    def axe(self):
        """Runs axe-core (vendored) on the current page; the serious and critical violations."""
        self.page.evaluate(AXE.read_text())
        result = self.page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.map(n => n.target.join(' '))}))"
        )
        return [v for v in result if v["impact"] in ("serious", "critical")]

    def close(self):
        self.context.close()


@pytest.fixture
def visit(browser, server):
    opened = []

    def make(viewport=PHONE):
        v = Visit(browser, server, viewport)
        opened.append(v)
        return v

    yield make
    for v in opened:
        assert v.foreign_requests() == [], "requests to another origin"
        assert v.csp_violations() == [], "Content-Security-Policy violations"
        v.close()
