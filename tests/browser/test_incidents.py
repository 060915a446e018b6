"""Opening an incident from the console (docs/ARCHITECTURE.md, "The manager's console"): the
manager reports a door for service from the keyboard and it is listed at once; a form without a
door comes back as typed with the door named, and nothing is opened. The page passes axe at
desktop and phone size."""

from conftest import DESKTOP, PHONE

MANAGER = "manager@linden-court.example"


def test_the_manager_reports_a_door_from_the_keyboard_and_it_is_listed_at_once(visit):
    maria = visit(DESKTOP)
    maria.sign_in(MANAGER)
    page = maria.go("/console/incidents")
    assert page.locator(".console-tabs a[aria-current=page]").inner_text() == "Incidents"
    assert doors_offered(page)
    assert maria.axe() == []

    # Forgot the door: the form comes back with the note kept and the door named.
    page.locator("input[name=kind][value=service]").check()
    page.fill("#i-note", "Closer arm hangs loose")
    with page.expect_navigation():
        page.click("form.incident-form button[type=submit]")
    assert "Nothing was opened" in page.locator("#form-errors").inner_text()
    door = page.locator("#i-door")
    assert door.get_attribute("aria-invalid") == "true"
    assert "choose the door" in page.locator("#" + door.get_attribute("aria-describedby")).inner_text()
    assert page.locator("#i-note").input_value() == "Closer arm hangs loose"
    assert page.locator("input[name=kind][value=service]").is_checked()
    assert maria.axe() == []
    maria.screenshot("console-incident-refused-desktop")

    # From the keyboard: the door, the kind, the note, then Enter on the button.
    door.focus()
    door.select_option(label="Back door")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    assert page.locator("input[name=kind][value=service]").is_checked()
    page.locator("#i-note").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Open the incident"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "is open" in page.locator("[role=status]").inner_text()
    listed = page.locator("li.card", has_text="Marked for service: Back door")
    assert "Reported: Closer arm hangs loose" in listed.inner_text()
    assert maria.axe() == []
    maria.screenshot("console-incident-opened-desktop")


def doors_offered(page):
    """The form offers the property's doors, none chosen yet."""
    options = page.locator("#i-door option").all_inner_texts()
    return options[0] == "Choose a door" and "Back door" in options and "Lobby" in options


def test_the_incidents_page_on_a_phone(visit):
    maria = visit(PHONE)
    maria.sign_in(MANAGER)
    page = maria.go("/console/incidents")
    page.locator("form.incident-form").wait_for()
    assert maria.axe() == []
    maria.screenshot("console-incidents-phone")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
