"""Headless Chromium for the tests that open pages as a person does: Debian's Chromium driven by
Playwright. Without either the tests skip, except in CI (`CI=true`), where `make test` installs
them and a missing browser is a failure."""

import os
import shutil
from collections.abc import Iterator

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the browser test must run; `make test` installs it)")
    pytest.skip(reason)


def launched_chromium() -> Iterator:
    """A launched browser for a fixture to yield; closed when the fixture ends."""
    if CHROMIUM is None:
        _missing("chromium is not installed (Debian package `chromium`)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
