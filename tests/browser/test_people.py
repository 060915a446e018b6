"""The console's people pages (docs/ARCHITECTURE.md, "The manager's console"): the manager moves a
resident out, and the receipt fills in, without a reload, as each virtual lock confirms that it
removed the resident's PIN; a lock that is offline at the move-out confirms when it comes back.
Adding a person shows the invitation link once. The pages pass axe at desktop and phone size and
work from the keyboard."""

from conftest import DESKTOP, PHONE

MANAGER = "manager@linden-court.example"
BEN = "Ben"
BEN_LOCK = "linden/1b-entry"


def open_person(page, name):
    page.locator("table.people tbody th a", has_text=name).first.click()
    page.wait_for_selector("h1:has-text('%s')" % name)


def test_move_out_receipt_fills_in_as_each_lock_confirms(visit):
    maria = visit(DESKTOP)
    maria.sign_in(MANAGER)
    page = maria.go("/people")
    assert "people" in page.locator("h1").inner_text()
    assert maria.axe() == []
    maria.screenshot("console-people-desktop")
    open_person(page, BEN)
    # Ben's PIN is on his unit's door and the shared doors; the demo programmed it.
    page.locator(".credential li", has_text="Unit 1B entry").first.wait_for()
    assert maria.axe() == []
    maria.screenshot("console-person-desktop")

    # His unit's lock is off the network when he moves out: its removal must wait for it.
    maria.server.sim("offline", "--lock", BEN_LOCK)
    form = page.locator("form.move-out").first
    # From the keyboard: the confirmation field, his name, Enter.
    form.locator("input[name=confirm]").focus()
    page.keyboard.type(BEN)
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:has-text('Move-out receipt')")
    assert page.url.endswith("/receipt"), page.url
    page.evaluate("window.notReloaded = true")

    def pin_row(door, state=""):
        rows = page.locator(f"table.receipt tbody tr{state}", has_text=door)
        return rows.filter(has_text="PIN").first

    unit_row = pin_row("Unit 1B entry")
    lobby_row = pin_row("Lobby")
    # The shared doors' locks are online and confirm by themselves.
    pin_row("Lobby", "[data-state=confirmed]").wait_for(timeout=15_000)
    assert "confirmed it at" in lobby_row.inner_text()
    assert unit_row.get_attribute("data-state") == "waiting", unit_row.inner_text()
    summary = page.locator("#receipt .summary")
    total = int(summary.get_attribute("data-total"))
    assert int(summary.get_attribute("data-confirmed")) < total
    assert maria.axe() == []
    maria.screenshot("console-receipt-waiting-desktop")

    # The lock comes back; latchkey removes the PIN and the line fills in where it is.
    maria.server.sim("online", "--lock", BEN_LOCK)
    pin_row("Unit 1B entry", "[data-state=confirmed]").wait_for(timeout=30_000)
    page.locator(f"#receipt .summary[data-confirmed='{total}']").wait_for(timeout=10_000)
    assert "Done" in summary.inner_text()
    assert page.evaluate("window.notReloaded") is True, "the page was reloaded"
    maria.screenshot("console-receipt-done-desktop")


def test_adding_a_person_gives_their_invitation_link_once_on_a_phone(visit):
    maria = visit(PHONE)
    maria.sign_in(MANAGER)
    page = maria.go("/people")
    assert maria.axe() == []
    page.fill("#name", "Rita Newcomer")
    page.fill("#email", "rita@linden-court.example")
    page.select_option("#role", "resident")
    page.select_option("#unit", label="Unit 2A (floor 2)")
    page.locator("form.add-person button[type=submit]").click()
    page.wait_for_selector("h1:has-text('Rita Newcomer was added')")
    link = page.locator("#invitation").inner_text()
    assert "/welcome?t=lki_" in link, link
    assert maria.axe() == []
    maria.screenshot("console-person-added-phone")
    # The list has her; the link is nowhere else.
    page = maria.go("/people")
    row = page.locator("table.people tbody tr", has_text="Rita Newcomer").first
    assert "Resident of 2A" in row.inner_text()
    assert "lki_" not in page.content()
    maria.screenshot("console-people-phone")
    # She opens the link in her own browser and sets her password.
    rita = visit(PHONE)
    rita.page.goto(link)
    assert "Rita" in rita.page.content()
