"""Headless Chromium for the report tests: Debian's ``chromium`` package driven by Playwright.

Never a browser download: the system Chromium is launched by path (``VADPIPE_CHROMIUM`` or
``chromium`` / ``chromium-browser`` on PATH). Where it or Playwright is missing, the tests that need a
browser are skipped with the reason and the install commands (CI installs both, see .ci/run).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

INSTALL = "apt-get install chromium && pip install playwright (never `playwright install`)"


def chromium_path() -> str | None:
    path = os.environ.get("VADPIPE_CHROMIUM")
    if path:
        return path if Path(path).is_file() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def launch_chromium(playwright):
    """A headless system Chromium that may start media without a click (the tests press play by script)."""
    return playwright.chromium.launch(
        executable_path=chromium_path(), headless=True,
        args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required", "--mute-audio"],
    )


def _missing(reason: str) -> None:
    """Skip on a developer's machine; fail under CI (CI=true), which installs the browser and must run these."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI must run the browser tests: see .ci/run)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_browser():
    """Skip the calling test module when no browser can be driven; returns playwright's sync_playwright."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing(f"Playwright for Python is not installed: {INSTALL}")
    if chromium_path() is None:
        where = os.environ.get("VADPIPE_CHROMIUM")
        _missing(f"VADPIPE_CHROMIUM={where} is not a file" if where else f"no chromium on PATH: {INSTALL}")
    return sync_playwright


class PageWatch:
    """Records what a page did that a self-contained report must not: console errors, script errors,
    dialogs (an injected alert), and requests outside ``root``."""

    def __init__(self, page, root: Path):
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.dialogs: list[str] = []
        prefix = root.resolve().as_uri() + "/"
        page.on("console", lambda m: self.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on("request", lambda r: None if r.url.startswith(prefix) or r.url.startswith(("data:", "blob:"))
                else self.outside.append(r.url))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def assert_clean(self) -> None:
        assert self.errors == [] and self.outside == [] and self.dialogs == []
