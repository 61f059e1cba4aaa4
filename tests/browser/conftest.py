"""Real-browser tests: the service on loopback, driven by Debian's Chromium.

The service runs in a thread of the test process (uvicorn, the same app ``carescore
serve --dev`` runs, over a SQLite database in a temporary folder), so the tests make
accounts and read the database directly. Chromium is the system's (``/usr/bin/chromium``,
Debian's package, which ``.ci/run`` installs), driven by Playwright without its own
browser download. axe-core comes from the npm registry (``tests/browser/package.json``,
installed by ``.ci/run``). Where Chromium, Playwright or axe-core is missing, the browser
tests are skipped and say which.

Each page is checked for Content-Security-Policy violations (the browser's own
``securitypolicyviolation`` events, and its console); screenshots go to
``build/browser-artefacts/`` (not committed; ``CARESCORE_BROWSER_ARTEFACTS`` moves them).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web_support import Site, make_site

HERE = Path(__file__).resolve().parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
ROOT = HERE.parent.parent
ARTEFACTS = Path(
    os.environ.get("CARESCORE_BROWSER_ARTEFACTS", ROOT / "build" / "browser-artefacts")
)
SERIOUS = ("serious", "critical")
_WATCH_POLICY = """
window.__policyViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__policyViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});
"""


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    if chromium() is None:
        return "Chromium is not installed here (.ci/run installs Debian's chromium)"
    if not AXE.is_file():
        return "axe-core is not installed (npm ci --prefix tests/browser, as .ci/run does)"
    return None


@pytest.fixture(scope="session")
def live_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, str]]:
    """The service on a free loopback port: the site's helpers and its base URL."""
    missing = _missing()
    if missing is not None:
        pytest.skip(missing)
    import uvicorn

    folder = tmp_path_factory.mktemp("live-service")
    site = make_site(f"sqlite+pysqlite:///{folder / 'carescore.db'}", folder)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    config = uvicorn.Config(site.client.app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the service did not start"
    yield site, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)
    site.client.close()
    site.database.dispose()


@pytest.fixture(scope="session")
def browser(live_site: tuple[Site, str]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), headless=True)
        yield launched
        launched.close()


class Watched:
    """A page with its Content-Security-Policy violations and console errors kept."""

    def __init__(self, page: Any, *, scripts: bool = True) -> None:
        self.page = page
        self.scripts = scripts
        """False for a page without JavaScript: only the console tells of violations."""
        self.console: list[str] = []
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.add_init_script(_WATCH_POLICY)

    def policy_violations(self) -> list[str]:
        seen = list(self.page.evaluate("window.__policyViolations || []")) if self.scripts else []
        said = [m for m in self.console if "Content Security Policy" in m]
        return seen + said


def new_page(browser: Any, base_url: str, **options: Any) -> Watched:
    context = browser.new_context(base_url=base_url, **options)
    return Watched(context.new_page(), scripts=options.get("java_script_enabled", True))


def check_policy(watched: Watched) -> None:
    """Fail listing every Content-Security-Policy violation the page reported."""
    violations = watched.policy_violations()
    assert violations == [], f"Content-Security-Policy violations: {violations}"


def check_accessible(page: Any) -> None:
    """Run axe-core in the page (through the browser's DevTools, which the page's
    Content-Security-Policy does not govern) and fail listing every serious or critical
    violation."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})); }"
    )
    serious = [v for v in found if v["impact"] in SERIOUS]
    assert serious == [], "accessibility violations:\n" + "\n".join(
        f"{v['impact']} {v['id']}: {v['help']} at {v['nodes']}" for v in serious
    )


def screenshot(page: Any, name: str) -> Path:
    """A full-page screenshot, kept as a test artefact."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def pdf_page_count(page: Any, name: str) -> int:
    """Print the page as Chromium prints it (print media, A4) and count the PDF's pages."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.pdf"
    page.emulate_media(media="print")
    page.pdf(path=str(path), format="A4", prefer_css_page_size=True)
    page.emulate_media(media="screen")
    content = path.read_bytes()
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", content))
