"""Browser journeys: a live server on loopback and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import serving

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def live_server(app):
    with serving(app) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    if not shutil.which("chromium") and not os.path.exists(CHROMIUM):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Debian chromium is not installed (make browser installs it)")
        pytest.skip("Debian chromium is not installed (make browser installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.console_errors = errors
    yield page
    context.close()
    # every page of every journey runs under the portal's CSP (script-src 'self', style-src 'self'): none may trip it
    violations = [e for e in errors if "Content Security Policy" in e]
    assert not violations, violations


def fits(page) -> bool:
    """The page needs no sideways scrolling at the viewport's width — measured once its stylesheets have loaded
    (right after a navigation, under load, the HTML may be laid out before the CSS that stacks its tables)."""
    page.wait_for_load_state("load")
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def too_wide(page) -> list[str]:
    """The elements that reach past the viewport's right edge (the first few): for a failing fits()."""
    return page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .slice(0, 5)
            .map(e => e.tagName.toLowerCase() + (e.className ? '.' + String(e.className).split(' ').join('.') : '')
                 + ' ' + Math.round(e.getBoundingClientRect().right) + 'px')"""
    )


def log_in(page, base: str, username: str, password: str):
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form:has(#password) button[type=submit]")
    page.wait_for_url(f"{base}/home")


def confirm_statement(page, base: str, statement_id: int, comment: str, by: str):
    """On a statement's page, confirm it with a comment; it reloads as confirmed by `by`."""
    from playwright.sync_api import expect

    page.fill("#confirm-comment", comment)
    page.click("button[data-confirm]")
    page.wait_for_url(f"{base}/statements/{statement_id}")
    expect(page.locator("h1 [data-status=confirmed]")).to_be_visible()
    expect(page.locator("[data-confirmed]")).to_contain_text(by)
