"""End to end in a real headless browser (Chromium via Selenium): an operator gets a login
link from /console through the real Application and the fake Bot API, opens it, presses
Log in, opens the funnel and looks a merchant up. A screenshot of each page is saved under
the test's temporary folder (``screenshots/``).

Without chromium/chromedriver/selenium the test is skipped with a message saying so; under
``CI=true`` it fails instead (``.ci/run`` installs them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.botapi.fake import FakeTelegram, SimulatedUser
from bot.context import BotApp
from tests import console_helpers
from tests.chat import Profile, interview
from tests.console_helpers import login_link, path_of, screenshot

settings = console_helpers.settings
browser = console_helpers.browser
live_console = console_helpers.live_console


async def in_browser(call: Callable[..., Any], *args: Any) -> Any:
    """Run a (blocking) Selenium call off the event loop that serves the console."""
    return await asyncio.to_thread(call, *args)


async def wait_for(driver: Any, css: str, seconds: float = 15.0) -> Any:
    """The first element matching ``css`` once the page shows it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    def wait() -> Any:
        return WebDriverWait(driver, seconds).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css))
        )

    return await in_browser(wait)


@pytest.mark.slow
async def test_an_operator_logs_in_and_uses_the_console_in_a_browser(
    app: BotApp, fake: FakeTelegram, browser: Any, live_console: str, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    ann = SimulatedUser(app, fake, user_id=2001, first_name="Ann")
    await interview(ann, Profile("ann", "Shopify", ("United Kingdom",)))
    link = await login_link(app, fake)  # /console, answered through the fake Bot API

    await in_browser(browser.get, live_console + path_of(link))
    button = await wait_for(browser, "button#login")
    screenshot(browser, tmp_path, "1-login")
    await in_browser(button.click)
    await wait_for(browser, "form#logout")
    assert browser.current_url == f"{live_console}/console/"  # no token left in the URL
    assert "operator 42" in browser.page_source
    screenshot(browser, tmp_path, "2-overview")

    await in_browser(browser.get, f"{live_console}/console/funnel")
    table = await wait_for(browser, "table#table-questions")
    assert "platform" in table.text
    screenshot(browser, tmp_path, "3-funnel")
    await in_browser(browser.get, f"{live_console}/console/funnel?platform=shopify&idle_days=7")
    await wait_for(browser, "table#table-weeks")
    screenshot(browser, tmp_path, "4-funnel-filtered")

    await in_browser(browser.get, f"{live_console}/console/lookup")
    field = await wait_for(browser, "form#lookup input[name=merchant_id]")
    await in_browser(field.send_keys, "2001")
    submit = browser.find_element(By.CSS_SELECTOR, "form#lookup button[type=submit]")
    await in_browser(submit.click)
    await wait_for(browser, "table#answers")
    assert "Merchant 2001" in browser.page_source and "shopify" in browser.page_source
    assert "2001" not in browser.current_url
    screenshot(browser, tmp_path, "5-lookup")

    # The same link again, in the same browser: refused.
    await in_browser(browser.get, live_console + path_of(link))
    await wait_for(browser, "main")
    assert (
        "button" not in browser.find_element(By.CSS_SELECTOR, "main").get_attribute("innerHTML")
        or "used" in browser.page_source.lower()
    )
    shots = sorted(p.name for p in (tmp_path / "screenshots").iterdir())
    assert shots == [
        "1-login.png",
        "2-overview.png",
        "3-funnel.png",
        "4-funnel-filtered.png",
        "5-lookup.png",
    ]
