"""The readiness heat map of the demo building (docs/LOCKOUT.md, "The readiness drill"): Lars
lives alone in 4C with only a phone key, so once it is dead nothing is left at night. The
manager sees the red cell and what would fix it; Lars prints a recovery card on his security
page and grants a spare key through the API, and the cell turns green."""

import re

from conftest import DESKTOP, PASSWORD, PHONE

MANAGER = "manager@linden-court.example"
LARS = "lars.4c@linden-court.example"


def lars_row(page, unit=None):
    """Lars's unit id and the class of its first cell (Monday 00:00, night)."""
    if unit is None:
        details = page.locator("details", has_text="Lars")
        unit = int(details.get_attribute("id").removeprefix("unit-"))
    row = page.locator(f"tr:has(th a[href='#unit-{unit}'])")
    return unit, row.locator("td").first.get_attribute("class")


def test_the_manager_finds_a_night_gap_and_sees_it_close_after_a_card_and_a_spare_key(visit, server):
    maria = visit(DESKTOP)
    maria.sign_in(MANAGER)
    page = maria.go("/readiness?failure=phone_gone")
    assert page.locator("h1").inner_text() == "Readiness: phone dead or lost"
    unit, cell = lars_row(page)
    assert cell == "w0", "no way left at night once Lars's phone is dead"
    # The cell explains itself: who has the gap and what would close it.
    page.locator(f"tr:has(th a[href='#unit-{unit}']) td a").first.click()
    page.wait_for_selector("#explained")
    explained = page.locator("#explained").inner_text()
    assert "0 ways back in" in explained
    assert re.search(r"Lars: .*there is no free way back in; add .*recovery card", explained), explained
    maria.screenshot("readiness-heat-map")
    property_id = int(re.search(r"property=(\d+)", page.url).group(1))
    me = maria.page.request.get(server.base + "/api/v1/auth/me").json()
    maria_id = me["person"]["id"]

    lars = visit(PHONE)
    lars.sign_in(LARS)
    lars.go("/security")
    if lars.page.locator("#card-password").count():
        lars.page.fill("#card-password", PASSWORD)
    lars.page.click("form[action='/security/recovery-card'] button[type=submit]")
    assert len(lars.page.locator("[data-recovery-codes] li").all_inner_texts()) == 6
    page.reload()
    assert lars_row(page, unit)[1] == "w1", "the card is one way at every hour"

    granted = lars.page.request.post(
        f"{server.base}/api/v1/properties/{property_id}/spare-keys",
        data={"unit_id": unit, "holder_id": maria_id},
        headers={"Origin": server.base},
    )
    assert granted.status == 201, granted.text()
    page.reload()
    assert lars_row(page, unit)[1] == "w2", "the card proves the case, so the spare key counts too"


def test_the_heat_map_passes_axe_at_desktop_and_phone_size_and_is_nobody_elses(visit, server):
    for size in (DESKTOP, PHONE):
        maria = visit(size)
        maria.sign_in(MANAGER)
        maria.go("/readiness?failure=phone_and_keys_gone")
        assert maria.axe() == [], f"axe at {size}"
        maria.screenshot("readiness-phone" if size == PHONE else "readiness-desktop")
    lars = visit(PHONE)
    lars.sign_in(LARS)
    page = lars.go("/readiness")
    assert "Readiness:" not in page.content()
    assert "Lars:" not in page.content()
