"""The console's audit log page (docs/ARCHITECTURE.md, "The manager's console"): the manager
searches the demo building's events by door and kind, sees the chain's head, and verifies the
whole chain from the page. It passes axe at desktop and phone size and works from the
keyboard."""

from conftest import DESKTOP, PHONE

MANAGER = "manager@linden-court.example"


def test_the_manager_searches_the_log_and_verifies_the_chain(visit):
    maria = visit(DESKTOP)
    maria.sign_in(MANAGER)
    page = maria.go("/audit")
    assert "audit log" in page.locator("h1").inner_text()
    head = page.locator(".chain dd").first.inner_text()
    assert head.startswith("event "), head
    assert maria.axe() == []
    maria.screenshot("console-audit-desktop")
    # From the keyboard: the door list, the Lobby, the kind list, Locks, then Search.
    page.locator("#door").focus()
    page.select_option("#door", label="Lobby")
    page.select_option("#kind", value="lock.")
    page.locator("form.filters button[type=submit]").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/audit?*kind=lock.*")
    assert "door=" in page.url and "kind=lock." in page.url, page.url
    kinds = page.locator("table.audit tbody td code").all_inner_texts()
    assert kinds, "the lobby's lock events (its PINs were written at start)"
    assert all(k.startswith("lock.") for k in kinds), kinds
    # Verify: the demo's chain is intact.
    page.locator(".chain button[type=submit]").click()
    page.wait_for_selector(".verdict")
    verdict = page.locator(".verdict").inner_text()
    assert verdict.startswith("Intact: all"), verdict
    maria.screenshot("console-audit-verified-desktop")


def test_the_audit_page_on_a_phone(visit):
    maria = visit(PHONE)
    maria.sign_in(MANAGER)
    maria.go("/audit")
    assert maria.axe() == []
    maria.screenshot("console-audit-phone")
