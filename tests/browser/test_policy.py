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


def test_wrong_fields_come_back_as_typed_each_named_and_nothing_is_saved(visit):
    ines = visit(DESKTOP)
    ines.sign_in(INSTALLER)
    page = ines.go("/policy")
    before = page.locator("#now-lockout_fee_office_cents").inner_text()
    page.fill("#f-lockout_fee_office_cents", "99999")
    page.fill("#f-wrong_code_limit", "five")
    page.fill("#f-entry_notice_hours", "48")
    with page.expect_navigation():
        page.click("form.policy-form button[type=submit]")
    # The form, not an error page: the reasons above it, each field marked with its own.
    summary = page.locator("#form-errors")
    assert "2 fields are not right" in summary.inner_text()
    assert "Fee when staff open the door in office hours" in summary.inner_text()
    for field, reason in (
        ("lockout_fee_office_cents", "at most 10000.00"),
        ("wrong_code_limit", "must be a whole number"),
    ):
        box = page.locator(f"#f-{field}")
        assert box.get_attribute("aria-invalid") == "true", field
        described = box.get_attribute("aria-describedby")
        assert reason in page.locator(f"#{described}").inner_text(), field
    assert page.locator("#f-entry_notice_hours").get_attribute("aria-invalid") is None
    # What was typed, right or wrong, is still there.
    assert page.locator("#f-lockout_fee_office_cents").input_value() == "99999"
    assert page.locator("#f-wrong_code_limit").input_value() == "five"
    assert page.locator("#f-entry_notice_hours").input_value() == "48"
    assert ines.axe() == []
    ines.screenshot("console-policy-refused-desktop")
    # The summary's links lead to their fields.
    link = summary.locator("a", has_text="Wrong codes in a row")
    assert link.get_attribute("href") == "#f-wrong_code_limit"
    assert page.locator("#now-lockout_fee_office_cents").inner_text() == before
    # Fixed, the same form saves.
    page.fill("#f-lockout_fee_office_cents", "30.00")
    page.fill("#f-wrong_code_limit", "6")
    with page.expect_navigation():
        page.click("form.policy-form button[type=submit]")
    page.locator("text=The policy is saved").wait_for()
    assert page.locator("#now-lockout_fee_office_cents").inner_text() == "30.00"
    assert page.locator("#now-entry_notice_hours").inner_text() == "48 hours"


def test_the_manager_reads_the_policy_on_a_phone(visit):
    maria = visit(PHONE)
    maria.sign_in(MANAGER)
    page = maria.go("/policy")
    assert page.locator("#now-entry_notice_hours").inner_text().endswith("hours")
    assert page.locator("form.policy-form").count() == 0
    assert "installers may change it" in page.locator("main").inner_text()
    assert maria.axe() == []
    maria.screenshot("console-policy-phone")
