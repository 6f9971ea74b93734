"""Japanese first, English on request, on the kiosk and the staff console: the texts come from the
tables in both languages, the console keeps the choice across a reload, and no script fails."""

from __future__ import annotations

from playwright.sync_api import Page

from bench.browser import wait_js
from madoguchi.local_deployment import LocalDeployment
from tests.e2e.conftest import NewContext


def _open(new_context: NewContext, url: str, ready: str, errors: list[str]) -> Page:
    page = new_context().new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_selector(ready)
    return page


def _toggle(page: Page, texts: dict[str, tuple[str, str]], to: str) -> None:
    """Press the language button; then each selector's text is its Japanese or English one."""
    page.click("#lang")
    assert page.evaluate("document.documentElement.lang") == to
    for selector, (ja, en) in texts.items():
        assert page.inner_text(selector) == (ja if to == "ja" else en), selector


def test_the_kiosk_speaks_japanese_then_english(
    new_context: NewContext, deployment: LocalDeployment
) -> None:
    assert deployment.branch is not None
    errors: list[str] = []
    kiosk = _open(
        new_context, deployment.branch.kiosk_url + "/", "#screen-idle:not([hidden])", errors
    )
    welcome = {
        "#idle-title": ("ご用件をお選びください", "What can we help you with?"),
        "button[data-purpose=moving]": ("引っ越し", "Moving"),
        "#lang": ("English", "日本語"),
    }
    assert kiosk.inner_text("#idle-title") == welcome["#idle-title"][0]
    _toggle(kiosk, welcome, "en")
    kiosk.click("button[data-purpose=moving]")
    kiosk.wait_for_selector("#screen-check:not([hidden])")
    assert kiosk.get_attribute("#mic-meter", "aria-label") == "Microphone level"
    _toggle(kiosk, {"#check-ok": ("はい、はじめる", "Yes, start")}, "ja")
    assert errors == []


def test_the_console_keeps_english_across_a_reload(
    new_context: NewContext, deployment: LocalDeployment
) -> None:
    assert deployment.hub is not None
    errors: list[str] = []
    page = _open(new_context, deployment.hub.url + "/console/", "#login-view:not([hidden])", errors)
    _toggle(page, {"#login-title": ("職員ログイン", "Staff login")}, "en")
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
