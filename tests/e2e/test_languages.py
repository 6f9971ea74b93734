"""Japanese first, English on request, on the kiosk and the staff console: the texts come from the
tables in both languages, the choice sticks on the console across a reload, and no script fails."""

from __future__ import annotations

from playwright.sync_api import Browser, Page

from madoguchi.local_deployment import LocalDeployment
from tests.e2e.test_call import wait_js


def _watched(browser: Browser, base_url: str, errors: list[str]) -> Page:
    page = browser.new_context(base_url=base_url).new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page


def test_the_kiosk_speaks_japanese_then_english(
    browser: Browser, deployment: LocalDeployment
) -> None:
    assert deployment.branch is not None
    errors: list[str] = []
    kiosk = _watched(browser, deployment.branch.kiosk_url, errors)
    kiosk.goto("/")
    kiosk.wait_for_selector("#screen-idle:not([hidden])")
    assert kiosk.inner_text("#idle-title") == "ご用件をお選びください"
    assert kiosk.inner_text("button[data-purpose=moving]") == "引っ越し"
    kiosk.click("#lang")
    assert kiosk.inner_text("#idle-title") == "What can we help you with?"
    assert kiosk.inner_text("#lang") == "日本語"
    assert kiosk.evaluate("document.documentElement.lang") == "en"
    kiosk.click("button[data-purpose=moving]")
    kiosk.wait_for_selector("#screen-check:not([hidden])")
    assert kiosk.inner_text("#check-ok") == "Yes, start"
    assert kiosk.get_attribute("#mic-meter", "aria-label") == "Microphone level"
    kiosk.click("#lang")
    assert kiosk.inner_text("#check-ok") == "はい、はじめる"
    assert errors == []


def test_the_console_keeps_english_across_a_reload(
    browser: Browser, deployment: LocalDeployment
) -> None:
    assert deployment.hub is not None
    errors: list[str] = []
    page = _watched(browser, deployment.hub.url, errors)
    page.goto("/console/")
    page.wait_for_selector("#login-view:not([hidden])")
    assert page.inner_text("#login-title") == "職員ログイン"
    page.click("#lang")
    assert page.inner_text("#login-title") == "Staff login"
    page.reload()
    page.wait_for_selector("#login-view:not([hidden])")
    assert page.inner_text("#login-title") == "Staff login"
    assert page.get_attribute("#transfer-user", "placeholder") == "Staff ID"
    page.fill("#username", "nobody")
    page.fill("#password", "wrong")
    page.click("#login-submit")
    wait_js(page, "document.getElementById('login-error').textContent !== ''")
    assert page.inner_text("#login-error") == "Wrong username or password."
    assert errors == []
