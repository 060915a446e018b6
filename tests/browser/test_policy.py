"""The console's policy page (docs/ARCHITECTURE.md, "The manager's console"): the installer
changes the after-hours lockout fee from the keyboard and sees it saved; the manager reads the
policy without a form; the page passes axe at desktop and phone size."""

from conftest import DESKTOP, PHONE

INSTALLER = "installer@linden-court.example"
MANAGER = "manager@linden-court.example"


def test_the_installer_changes_a_fee_from_the_keyboard(visit):
    ines = visit(DESKTOP)
    ines.sign_in(INSTALLER)
    page = ines.go("/policy")
    assert "policy" in page.locator("h1").inner_text()
    assert ines.axe() == []
    ines.screenshot("console-policy-desktop")
    fee = page.locator("#f-lockout_fee_after_hours_cents")
    fee.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("82.50")
    # Tab on to the next field, then submit with Enter from it.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "free_lockouts_per_year"
    page.keyboard.press("Enter")
    page.locator("text=The policy is saved").wait_for()
    assert page.locator("#now-lockout_fee_after_hours_cents").inner_text() == "82.50"
    assert page.locator("#f-lockout_fee_after_hours_cents").input_value() == "82.50"
    assert ines.axe() == []


def test_a_bad_fee_is_named_and_not_saved(visit):
    ines = visit(DESKTOP)
    ines.sign_in(INSTALLER)
    page = ines.go("/policy")
    before = page.locator("#now-lockout_fee_office_cents").inner_text()
    # The browser's own check would stop "abc"; a value past the limit reaches the server.
    page.fill("#f-lockout_fee_office_cents", "99999")
    page.click("form.policy-form button[type=submit]")
    page.locator("text=Fee when staff open the door in office hours").wait_for()
    assert "at most 10000.00" in page.locator("main").inner_text()
    page = ines.go("/policy")
    assert page.locator("#now-lockout_fee_office_cents").inner_text() == before


def test_the_manager_reads_the_policy_on_a_phone(visit):
    maria = visit(PHONE)
    maria.sign_in(MANAGER)
    page = maria.go("/policy")
    assert page.locator("#now-entry_notice_hours").inner_text().endswith("hours")
    assert page.locator("form.policy-form").count() == 0
    assert "installers may change it" in page.locator("main").inner_text()
    assert maria.axe() == []
    maria.screenshot("console-policy-phone")
