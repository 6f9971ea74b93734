"""The forms filled together, seen by both sides: the specialist fills in the console (prefilled
from the card), the resident checks the form in large text on the kiosk and signs on its pad, and
the application lands in the central intake once — with the My Number never in a browser."""

from __future__ import annotations

import json
from collections.abc import Callable

import redis
from playwright.sync_api import Page

from bench.browser import wait_js
from branch_client.card.software_card import DEMO_NAME, DEMO_PIN
from madoguchi.local_deployment import LocalDeployment
from tests.branch_client.card.conftest import InsertCard
from tests.e2e.conftest import StaffPage

FORM = "juuminhyou_koufu"


def test_fill_review_sign_submit(
    deployment: LocalDeployment,
    specialist_page: Page,
    staff_page: StaffPage,
    kiosk: Page,
    answered_call: Callable[[str], None],
    insert_card: InsertCard,
) -> None:
    branch, page = deployment.branch, specialist_page
    assert branch is not None and deployment.redis is not None
    answered_call("certificate")
    page.wait_for_selector("#case:not([hidden]) #apply-procedures")
    assert page.input_value("#life-event") == "shoumeisho"
    page.uncheck("input[name=procedure][value=zei_shoumei]")
    page.click("#apply-procedures")
    wait_js(page, f"window.madoguchiConsole.case.chosen?.join() === '{FORM}'")

    # The card fills name, birth date and address (no My Number: this form does not need it).
    insert_card()
    page.click("#card-read")
    kiosk.wait_for_selector("#pin-form:not([hidden])")
    for digit in DEMO_PIN:
        kiosk.click(f".keypad [data-key='{digit}']")
    kiosk.click(".keypad .key-ok")
    wait_js(page, "window.madoguchiConsole.case.shared.name?.source === 'card'")

    # The specialist fills the form's own fields.
    def choose(field: str, value: str) -> None:
        before = page.evaluate("window.madoguchiConsole.case.version")
        page.select_option(f"[data-name='form.{FORM}.{field}']", value)
        wait_js(page, f"window.madoguchiConsole.case.version > {before}")

    choose("certificate", "juuminhyou")
    choose("scope", "self")
    choose("purpose", "work")
    before = page.evaluate("window.madoguchiConsole.case.version")
    page.fill(f"[data-name='form.{FORM}.copies']", "2")
    page.press(f"[data-name='form.{FORM}.copies']", "Tab")
    wait_js(page, f"window.madoguchiConsole.case.version > {before}")
    case = page.evaluate("window.madoguchiConsole.case")
    assert case["forms"][FORM]["name"] == {"value": DEMO_NAME, "source": "card"}
    assert case["forms"][FORM]["copies"] == {"value": "2", "source": "staff"}

    # The resident reviews it on the kiosk, in large text, and confirms.
    page.click(f"button[data-review={FORM}]")
    kiosk.wait_for_selector("#screen-review:not([hidden])")
    review = kiosk.inner_text("#review-fields")
    assert DEMO_NAME in review and "カードから" in review and "住民票の写し" in review
    kiosk.click("#review-ok")
    wait_js(page, f"window.madoguchiConsole.case.confirmed['{FORM}'] === true")
    kiosk.wait_for_selector("#screen-call:not([hidden])")

    # Then signs once on the pad.
    page.click("#ask-signature")
    kiosk.wait_for_selector("#screen-sign:not([hidden])")
    pad = kiosk.locator("#sign-pad").bounding_box()
    assert pad is not None
    kiosk.mouse.move(pad["x"] + 60, pad["y"] + 80)
    kiosk.mouse.down()
    for i in range(1, 20):
        kiosk.mouse.move(pad["x"] + 60 + i * 25, pad["y"] + 80 + (i % 5) * 12)
    kiosk.mouse.up()
    kiosk.click("#sign-ok")
    wait_js(page, "window.madoguchiConsole.case.signed === true")
    kiosk.wait_for_selector("#screen-call:not([hidden])")

    # Submitted once to the intake; a second press does not submit twice.
    page.click("#submit-application")
    wait_js(
        page, "window.madoguchiConsole.case.result && !window.madoguchiConsole.case.result.pending"
    )
    result = page.evaluate("window.madoguchiConsole.case.result")
    assert "application_id" in result, (
        result,
        page.evaluate("window.madoguchiConsole.case.issues"),
    )
    assert result["created"] is True and result["entries"]["avoided"] > 0
    assert result["entries"]["resident"] == 1  # the signature; nothing written by hand
    page.click("#submit-application")
    wait_js(page, "window.madoguchiConsole.case.result?.created === false")
    client = redis.Redis(port=deployment.redis.port, decode_responses=True)
    entries = client.xrange("mdg:intake:stream")
    client.close()
    assert len(entries) == 1
    record = json.loads(entries[0][1]["payload"])
    assert record["forms"][FORM]["name"] == DEMO_NAME.replace("\u3000", " ")  # normalised
    assert record["provenance"][FORM]["name"] == "card"
    assert record["signature"]["strokes"]

    # The back office claims it, reads it (the form's values, their provenance) and returns it;
    # the specialist is told, with the reason.
    office = staff_page("yamada")
    office.wait_for_selector("#intake-view:not([hidden]) #intake-claim")
    office.click("#intake-claim")
    office.wait_for_selector("#intake-current")
    current = office.evaluate("window.madoguchiConsole.intake.current")
    assert current["application_id"] == result["application_id"]
    assert current["state"] == "claimed"
    assert DEMO_NAME.replace("\u3000", " ") in office.inner_text("#intake-current")
    assert "カード" in office.inner_text("#intake-current tr[data-field=name]")
    office.click("#intake-return")
    assert "理由" in office.inner_text("#intake-message")  # a reason is required
    office.fill("#intake-reason", "請求部数の確認をお願いします")
    office.click("#intake-return")
    wait_js(office, "window.madoguchiConsole.intake.current === null")
    returned = page.evaluate("window.madoguchiConsole.returned()")
    assert [a["reason"] for a in returned] == ["請求部数の確認をお願いします"]
