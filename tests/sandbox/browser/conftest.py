"""Debian's Chromium, driven by Playwright for Python, against the sandbox and a merchant's site.

Playwright's own browser downloads are never used (`playwright install` is not run): Chromium
comes from apt (`/usr/bin/chromium`). Without it, or without Playwright, these tests skip on a
developer's machine and fail in CI. Each test's last page is saved under `screenshots/`.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from sandbox.runner import ServerThread
from tests.sandbox.browser.shop import create_shop
from tests.sandbox.conftest import PUBLISHABLE_KEY
from tests.sandbox.stripe_js import toolchain

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

if importlib.util.find_spec("playwright") is None and not os.environ.get("CI"):
    # A checkout without the dev dependencies still runs every other test; CI has them, and
    # there the import error in the test modules fails the run instead.
    collect_ignore_glob = ["test_*.py"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).parent / "screenshots"
DESKTOP = {"width": 1024, "height": 768}
PHONE = {"width": 375, "height": 812}


def _require_browser() -> None:
    toolchain.require(CHROMIUM.exists(), f"Chromium at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture(scope="session")
def integration_js(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return toolchain.compile_integration(tmp_path_factory.mktemp("stripe_js_build"))


@pytest.fixture(scope="session")
def shop(sandbox_server: ServerThread, integration_js: Path) -> Iterator[ServerThread]:
    shop_app = create_shop(sandbox_server.url, PUBLISHABLE_KEY, integration_js)
    with ServerThread(shop_app) as server:
        yield server


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    _require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class PageLog:
    """What the browser complained about: console errors (CSP refusals among them) and
    uncaught exceptions, from the page and its frames."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        return [m for m in self.console_errors if re.search(r"Content Security Policy", m)]


async def _open(
    browser: Browser, request: pytest.FixtureRequest, viewport: dict[str, int]
) -> AsyncIterator[tuple[Page, PageLog]]:
    context = await browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    page = await context.new_page()
    page.set_default_timeout(15_000)
    log = PageLog()

    def on_console(message: Any) -> None:
        if message.type == "error":
            log.console_errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: log.page_errors.append(str(error)))
    try:
        yield page, log
    finally:
        SCREENSHOTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
        await context.close()
    assert log.csp_violations() == []
    assert log.page_errors == []


@pytest_asyncio.fixture(loop_scope="session")
async def page_and_log(
    browser: Browser, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Page, PageLog]]:
    async for opened in _open(browser, request, DESKTOP):
        yield opened


@pytest_asyncio.fixture(loop_scope="session")
async def phone_page_and_log(
    browser: Browser, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Page, PageLog]]:
    async for opened in _open(browser, request, PHONE):
        yield opened


@pytest.fixture
def page(page_and_log: tuple[Page, PageLog]) -> Page:
    return page_and_log[0]


@pytest.fixture
def phone_page(phone_page_and_log: tuple[Page, PageLog]) -> Page:
    return phone_page_and_log[0]


async def screenshot(page: Page, request: pytest.FixtureRequest, step: str) -> None:
    """A picture of a step before the last one, beside the final one."""
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}-{step}.png"), full_page=True)
