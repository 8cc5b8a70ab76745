"""Headless Chromium for the report tests, driven by Playwright's Python API.

Playwright's pip wheel ships its own driver but no browser, and no browser is ever downloaded
here (no ``playwright install``): it drives the system Chromium (Debian's ``chromium``
package) through ``executable_path``. :func:`chromium_unavailable` says why a browser test
cannot run, so the tests skip with that reason where either piece is missing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from typing import Any

#: Executables tried in order (after ``$SOLIDION_CHROMIUM``).
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


def chromium_executable() -> str | None:
    """Path of a Chromium/Chrome executable, or None."""
    env = os.environ.get("SOLIDION_CHROMIUM")
    if env:
        return env if os.access(env, os.X_OK) else None
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium_unavailable() -> str | None:
    """Why the browser tests cannot run (None when they can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if chromium_executable() is None:
        return (
            "no Chromium executable found (apt-get install chromium, or set SOLIDION_CHROMIUM "
            "to a Chrome/Chromium binary)"
        )
    return None


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless Chromium (a Playwright ``Browser``), closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_executable(), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()
