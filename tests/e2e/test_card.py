"""The card read as the specialist and the resident see it: real hub and terminal processes, real
pcscd with vpcd and the software card, Chromium for the console and the kiosk."""

from __future__ import annotations

import re
from collections.abc import Callable

import redis
from playwright.sync_api import Page

from bench.browser import wait_js
from branch_client.card.software_card import DEMO_ADDRESS, DEMO_MY_NUMBER, DEMO_NAME
from madoguchi.local_deployment import LocalDeployment
from tests.branch_client.card.conftest import InsertCard

PIN = "1357"


def test_card_read_prefills_the_forms(
    deployment: LocalDeployment,
    specialist_page: Page,
    kiosk: Page,
    answered_call: Callable[[str], None],
    insert_card: InsertCard,
) -> None:
    branch, page = deployment.branch, specialist_page
    assert branch is not None and deployment.redis is not None
    answered_call("moving")
    page.wait_for_selector("#case:not([hidden]) #apply-procedures")

    # 転入: the specialist keeps the suggested procedures; 住民異動届 needs the My Number.
    assert page.input_value("#life-event") == "tennyu"
    page.click("#apply-procedures")
    wait_js(page, "window.madoguchiConsole.case.chosen !== null")
    page.wait_for_selector("#card-with-number:not([disabled])")
    page.check("#card-with-number")
    page.click("#card-read")

    # The kiosk asks for the card, then for the PIN with the tries left.
    kiosk.wait_for_selector("#screen-card:not([hidden]) #card-insert:not([hidden])")
    insert_card(pin=PIN)
    kiosk.wait_for_selector("#pin-form:not([hidden])")
    assert "3" in kiosk.inner_text("#card-tries")
    wait_js(page, "window.madoguchiConsole.case.cardStep === 'pin'")
    for digit in "0000":  # a wrong PIN first
        kiosk.click(f".keypad [data-key='{digit}']")
    kiosk.click(".keypad .key-ok")
    wait_js(kiosk, "document.getElementById('card-tries').textContent.includes('2')")
    assert "暗証番号がちがいます" in kiosk.inner_text("#card-message")
    for digit in PIN:
        kiosk.click(f".keypad [data-key='{digit}']")
    assert kiosk.inner_text("#pin-dots") == "●●●●"
    kiosk.click(".keypad .key-ok")

    # The console fills the shared fields from the card, marked, and every form that uses them.
    wait_js(page, "window.madoguchiConsole.case.shared.name?.source === 'card'")
    case = page.evaluate("window.madoguchiConsole.case")
    assert case["shared"]["name"]["value"] == DEMO_NAME
    # At 転入 the card still shows the address the resident moved from.
    assert case["shared"]["previous_address"]["value"] == DEMO_ADDRESS
    assert case["shared"]["birth_date"] == {"value": "1990-04-01", "source": "card"}
    assert case["forms"]["tennyu_todoke"]["name"] == {"value": DEMO_NAME, "source": "card"}
    assert not case["revealed"]
    masked = page.inner_text("#my-number")
    assert DEMO_MY_NUMBER not in masked and masked.endswith(DEMO_MY_NUMBER[-4:])
    assert DEMO_MY_NUMBER not in page.content()
    page.click("#reveal-number")
    wait_js(page, f"document.getElementById('my-number').textContent === '{DEMO_MY_NUMBER}'")
    kiosk.wait_for_selector("#screen-call:not([hidden])", timeout=15_000)

    client = redis.Redis(port=deployment.redis.port, decode_responses=True)
    actions = [
        fields["action"]
        for _, fields in client.xrange("mdg:audit")
        if fields["action"].startswith("card.")
    ]
    client.close()
    assert actions == ["card.request", "card.read", "card.reveal"]
    # The PIN and the My Number are in no log, the terminal's included.
    assert deployment.hub is not None
    for log in (deployment.hub.log_path, branch.log_path):
        text = log.read_text(errors="replace")
        # (four digits turn up inside ports and hex ids: look for the PIN standing alone)
        assert not re.search(rf"(?<![0-9a-fA-F]){PIN}(?![0-9a-fA-F])", text)
        assert DEMO_MY_NUMBER not in text and DEMO_NAME not in text
