"""The security page's list of sessions: a person signed in on a borrowed computer signs it out
from their phone, and that computer can no longer do anything."""

import re

from conftest import RESIDENT


def test_a_session_left_on_a_borrowed_computer_is_signed_out_from_the_phone(visit):
    computer = visit()
    computer.sign_in(RESIDENT)
    assert computer.page.url == computer.server.base + "/"
    phone = visit()
    phone.sign_in(RESIDENT)
    phone.go("/security")
    sessions = phone.page.locator("li.session")
    assert sessions.count() == 2
    assert phone.page.locator("li.session[data-this-session]").count() == 1
    assert "This browser" in sessions.first.inner_text()
    phone.screenshot("security-sessions")

    other = phone.page.locator("li.session:not([data-this-session])")
    other.locator("button", has_text="Sign it out").click()
    assert "That session is signed out" in phone.page.locator("#security-notice").inner_text()
    assert phone.page.locator("li.session").count() == 1

    # The computer's next page asks it to sign in; the phone stays signed in.
    computer.go("/")
    assert computer.page.url == computer.server.base + "/sign-in"
    phone.go("/")
    assert phone.page.url == phone.server.base + "/"

    # Signing out this browser from the list ends it too.
    phone.go("/security")
    phone.page.locator("li.session[data-this-session] button").click()
    phone.page.wait_for_url(phone.server.base + "/sign-in")
    phone.go("/security")
    # Signed in again, the browser comes back to the page it asked for.
    assert phone.page.url == phone.server.base + "/sign-in?next=/security"


def test_a_printed_recovery_card_proves_a_lockout_on_a_borrowed_phone(visit):
    from conftest import PASSWORD

    ana = visit()
    ana.sign_in(RESIDENT)
    ana.go("/security")
    assert "You have no recovery card." in ana.page.locator("#card-left").inner_text()
    if ana.page.locator("#card-password").count():
        ana.page.fill("#card-password", PASSWORD)
    ana.page.click("form[action='/security/recovery-card'] button[type=submit]")
    codes = ana.page.locator("[data-recovery-codes] li").all_inner_texts()
    assert len(codes) == 6 and all(re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", c) for c in codes), codes
    ana.screenshot("recovery-card")
    assert ana.axe() == []
    # Printed, the card stands alone: no navigation, no buttons.
    ana.page.emulate_media(media="print")
    assert not ana.page.locator("nav.tabs").is_visible()
    assert ana.page.locator("[data-recovery-codes]").is_visible()
    ana.page.emulate_media(media="screen")
    ana.go("/security")
    assert "6 unused codes" in ana.page.locator("#card-left").inner_text()
    assert codes[0] not in ana.page.content(), "the codes are shown once"

    # The phone is gone; on a borrowed one, a code from the card (typed loosely) proves it.
    phone = visit()
    phone.go("/locked-out")
    phone.page.fill("#unit", "1A")
    phone.page.fill("#identity", "Ana")
    phone.page.click("form[action='/locked-out'] button[type=submit]")
    phone.page.wait_for_url(phone.server.base + "/locked-out/case")
    phone.page.fill("#card-code", codes[2].lower().replace("-", " "))
    phone.page.click("form[action='/locked-out/case/card'] button[type=submit]")
    phone.page.locator("[data-case-state=proven]").wait_for(timeout=10_000)
    assert "A code from your recovery card was accepted." in phone.page.locator("main").inner_text()
    ana.go("/security")
    assert "5 unused codes" in ana.page.locator("#card-left").inner_text()
