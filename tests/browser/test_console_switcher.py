"""The console for staff of several properties (docs/ARCHITECTURE.md, "The manager's console",
decision 77): the admin makes Maria manager of a second building; she switches to it from the
property switcher, the tabs then keep it from page to page, and she switches back. Her pages
pass axe with the switcher, which works from the keyboard."""

from conftest import DESKTOP

ADMIN = "admin@linden-court.example"
MANAGER = "manager@linden-court.example"

SECOND_BUILDING = """async () => {
  const json = {'content-type': 'application/json'};
  const made = await fetch('/api/v1/properties', {method: 'POST', headers: json,
    body: JSON.stringify({name: 'Birch Hall', timezone: 'Europe/Berlin'})});
  const birch = await made.json();
  const linden = (await (await fetch('/api/v1/properties')).json()).find(p => p.name === 'Linden Court');
  const people = await (await fetch(`/api/v1/properties/${linden.id}/people`)).json();
  const maria = people.find(p => p.email === 'manager@linden-court.example');
  const m = await fetch(`/api/v1/properties/${birch.id}/memberships`, {method: 'POST', headers: json,
    body: JSON.stringify({person_id: maria.id, role: 'manager'})});
  return {made: made.status, membership: m.status, birch: birch.id, linden: linden.id};
}"""


def tab_properties(page):
    return {
        href.split("property=")[1]
        for href in page.eval_on_selector_all(".console-tabs a", "as => as.map(a => a.getAttribute('href'))")
    }


def test_a_manager_of_two_buildings_switches_and_the_tabs_keep_the_building(visit):
    ada = visit(DESKTOP)
    ada.sign_in(ADMIN)
    ada.go("/")
    made = ada.page.evaluate(SECOND_BUILDING)
    assert (made["made"], made["membership"]) == (201, 201), made
    birch, linden = str(made["birch"]), str(made["linden"])

    maria = visit(DESKTOP)
    maria.sign_in(MANAGER)
    page = maria.go("/alarms")
    assert page.locator("h1").inner_text() == "Linden Court: alarms"
    assert tab_properties(page) == {linden}
    switcher = page.locator("#console-property")
    assert switcher.locator("option").all_inner_texts() == ["Linden Court", "Birch Hall"]
    assert maria.axe() == []
    maria.screenshot("console-switcher-desktop")

    # From the keyboard: choose Birch Hall, Tab to Show, Enter.
    switcher.focus()
    switcher.select_option(label="Birch Hall")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Show"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("h1").inner_text() == "Birch Hall: alarms"
    assert tab_properties(page) == {birch}
    assert page.locator("#console-property option:checked").inner_text() == "Birch Hall"
    # The tabs keep it from page to page.
    with page.expect_navigation():
        page.locator(".console-tabs a", has_text="Policy").click()
    assert page.locator("h1").inner_text() == "Birch Hall: policy"
    assert tab_properties(page) == {birch}
    with page.expect_navigation():
        page.locator(".console-tabs a", has_text="Incidents").click()
    assert page.locator("h1").inner_text() == "Birch Hall: incidents"
    assert "Back door" not in page.locator("#i-door").inner_text(), "Linden Court's doors"
    assert maria.axe() == []

    # And back, staying on the same tab.
    page.locator("#console-property").select_option(label="Linden Court")
    with page.expect_navigation():
        page.locator("form.switcher button").click()
    assert page.locator("h1").inner_text() == "Linden Court: incidents"
    assert tab_properties(page) == {linden}
