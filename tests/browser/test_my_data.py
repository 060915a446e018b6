"""The resident's own data from the Security page: the download of everything latchkey holds
about them, and the request to be erased, with a confirmation step that says what goes, what is
kept and why before anything is sent."""

import json

from conftest import DESKTOP, RESIDENT
from test_lockout import Api


def test_a_resident_downloads_their_data_and_asks_to_be_erased(visit, server):
    v = visit()
    v.sign_in(RESIDENT)
    v.go("/security")
    page = v.page

    # The download: one JSON file of the person's data, and nothing secret in it.
    with page.expect_download() as started:
        page.click("#download-my-data")
    download = started.value
    assert download.suggested_filename == "latchkey-my-data.json"
    data = json.loads(open(download.path(), encoding="utf-8").read())
    assert data["person"]["email"] == RESIDENT
    assert "password_hash" not in json.dumps(data)

    # The confirmation step says what goes, what is kept and why; looking sends nothing.
    api = Api(server)

    def asked():
        return api.get("/api/v1/events?kind=privacy.erasure_requested")["events"]

    page.click("#ask-erasure")
    page.wait_for_url(server.base + "/security/erasure")
    removed = page.locator("#erasure-removed li").all_inner_texts()
    kept = page.locator("#erasure-kept li").all_inner_texts()
    assert "e-mail address" in removed and "passkeys and the authenticator secret" in removed
    assert any(k.startswith("ledger entries") and "tax law" in k for k in kept), kept
    assert asked() == []
    v.screenshot("erasure-confirm")
    assert v.axe() == []

    # Changing one's mind goes back and sends nothing.
    page.click("text=No, keep my account")
    page.wait_for_url(server.base + "/security")
    assert asked() == []

    # Confirmed, by keyboard: recorded once, and the page says what happens and when.
    page.click("#ask-erasure")
    page.fill("#erasure-note", "Moving out on the 31st")
    page.focus("form[action='/security/erasure'] button[type=submit]")
    page.keyboard.press("Enter")
    page.locator("#erasure-done").wait_for()
    assert "is recorded" in page.locator("#erasure-done").inner_text()
    assert "after you move out" in page.locator("#erasure-when").inner_text()
    assert page.locator("#erasure-kept li").all_inner_texts() == kept
    events = asked()
    assert len(events) == 1 and events[0]["actor_id"] == api.person(RESIDENT)["id"]
    v.screenshot("erasure-asked")
    assert v.axe() == []

    # Asked again: said so, nothing new sent.
    page.goto(server.base + "/security/erasure")
    page.click("form[action='/security/erasure'] button[type=submit]")
    assert "already" in page.locator("#erasure-done").inner_text()
    assert len(asked()) == 1


def test_the_erasure_pages_pass_axe_at_desktop_size(visit):
    v = visit(DESKTOP)
    v.sign_in(RESIDENT)
    v.go("/security/erasure")
    assert v.axe() == []
    v.page.click("form[action='/security/erasure'] button[type=submit]")
    v.page.locator("#erasure-done").wait_for()
    assert v.axe() == []
