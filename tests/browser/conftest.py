"""Debian's chromium driven by Playwright (async API, in the test session's event loop), against the one whole
system the e2e tests share (the `system` fixture of shared/testing/tenants.py). Never `playwright install`:
the browser is /usr/bin/chromium (./dev test installs it with apt when it is missing)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).parent / "screenshots"  # git-ignored
expect.set_options(timeout=20_000)  # waits poll until this deadline (a loaded machine is slow, never a fixed sleep)


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (./dev test does it)")
    SCREENSHOTS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-component-update"])
        yield launched
        await launched.close()


class Pages:
    """Browser contexts of one test (one per person: cookies and storage apart), closed after it."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []

    async def open(self, path: str) -> Page:
        context = await self.browser.new_context(base_url=self.base_url, viewport={"width": 1280, "height": 860},
                                                 accept_downloads=True)
        context.set_default_timeout(20_000)
        self.contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda error: self.errors.append(f"{path}: {error}"))
        page.on("console", lambda m: self.errors.append(f"{path}: {m.text}") if m.type == "error"
                and "Content Security Policy" in m.text else None)
        await page.goto(path)
        return page

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()


@pytest.fixture
async def pages(chromium: Browser, tenant) -> AsyncIterator[Pages]:
    opened = Pages(chromium, tenant.system.gateway_url)
    yield opened
    await opened.close()
    assert not opened.errors, opened.errors  # no script error, no CSP violation on any page
