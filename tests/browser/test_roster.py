"""The console's on-call roster and locksmith registry (docs/ARCHITECTURE.md, "The manager's
console"): the manager puts herself on call, registers a locksmith and verifies it, from the
keyboard; the page passes axe at desktop and phone size."""

from conftest import DESKTOP, PHONE

MANAGER = "manager@linden-court.example"


def test_the_manager_goes_on_call_and_verifies_a_locksmith(visit):
    maria = visit(DESKTOP)
    maria.sign_in(MANAGER)
    page = maria.go("/on-call")
    assert "on call and locksmiths" in page.locator("h1").inner_text()
    assert maria.axe() == []
    form = page.locator("form.on-call-form")
    form.locator("select[name=person]").select_option(label="Maria Manager")
    form.locator("input[name=always]").focus()
    page.keyboard.press("Space")
    form.locator("button[type=submit]").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("table.roster")
    row = page.locator("table.roster tbody tr", has_text="Maria Manager").first
    assert "On call now" in row.inner_text()

    reg = page.locator("form.locksmith-form")
    reg.locator("#company").fill("Kiez Schlüsseldienst")
    reg.locator("#licence").fill("HWK-B-4411")
    reg.locator("#phone").fill("+49 30 555 0101")
    reg.locator("#callout").fill("89.50")
    reg.locator("button[type=submit]").click()
    row = page.locator("table.locksmiths tbody tr", has_text="Kiez Schlüsseldienst").first
    row.wait_for()
    assert "Not verified yet" in row.inner_text()
    row.locator("button[value=verified]").click()
    row = page.locator("table.locksmiths tbody tr", has_text="Kiez Schlüsseldienst").first
    row.locator("text=Verified: offered").wait_for()
    assert maria.axe() == []
    maria.screenshot("console-on-call-desktop")


def test_the_roster_on_a_phone(visit):
    maria = visit(PHONE)
    maria.sign_in(MANAGER)
    maria.go("/on-call")
    assert maria.axe() == []
    maria.screenshot("console-on-call-phone")
