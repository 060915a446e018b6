"""The console's devices page (docs/ARCHITECTURE.md, "The manager's console"): the installer sees
every device latchkey has seen on the broker, with what each is paired with; a lock taken off its
door comes first with a form, and pairing it again from the keyboard puts it back on the door.
The page passes axe at desktop and phone size."""

from conftest import DESKTOP, PHONE

INSTALLER = "installer@linden-court.example"

UNPAIR = """async () => {
  const p = new URL(document.querySelector('.console-tabs a').href).searchParams.get('property');
  const doors = await (await fetch(`/api/v1/properties/${p}/doors`)).json();
  const door = doors.find(d => d.lock_name);
  const res = await fetch(`/api/v1/doors/${door.id}/lock`, {
    method: 'PUT', headers: {'content-type': 'application/json'},
    body: JSON.stringify({device: null})});
  return {status: res.status, name: door.name, lock: door.lock_name};
}"""


def test_the_installer_sees_the_devices_and_pairs_a_lock_from_the_keyboard(visit):
    ivo = visit(DESKTOP)
    ivo.sign_in(INSTALLER)
    page = ivo.go("/devices")
    assert "devices" in page.locator("h1").inner_text()
    assert page.locator(".console-tabs a[aria-current=page]").inner_text() == "Devices"
    rows = page.locator("table.devices tbody tr")
    assert rows.count() > 1
    assert page.locator("table.devices", has_text="Door: Lobby").count() == 1
    # The demo's locks are all paired: nothing to pair yet.
    assert page.locator("form.pair").count() == 0
    assert ivo.axe() == []
    ivo.screenshot("console-devices-desktop")

    # A lock taken off its door (as the API allows installers) is listed first, with a form.
    taken = page.evaluate(UNPAIR)
    assert taken["status"] == 204, taken
    page = ivo.go("/devices")
    first = rows.first
    assert taken["lock"] in first.locator("th").inner_text()
    form = first.locator("form.pair")
    assert form.locator("select option").all_inner_texts() == [taken["name"]]
    assert ivo.axe() == []
    # From the keyboard: the door's list, then the button.
    form.locator("select").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Pair"
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    page.locator("table.devices", has_text=f"Door: {taken['name']}").wait_for()
    assert page.locator("form.pair").count() == 0
    assert "0 unpaired locks" in page.locator(".summary").inner_text()


def test_the_devices_page_on_a_phone(visit):
    ivo = visit(PHONE)
    ivo.sign_in(INSTALLER)
    page = ivo.go("/devices")
    page.locator("table.devices", has_text="Door: Lobby").wait_for()
    assert ivo.axe() == []
    ivo.screenshot("console-devices-phone")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width


def test_the_manager_gets_no_devices_page(visit):
    maria = visit(DESKTOP)
    maria.sign_in("manager@linden-court.example")
    page = maria.go("/devices")
    assert page.locator("table.devices").count() == 0
    assert "linden/lobby" not in page.content()


def test_the_installer_unpairs_a_lock_after_reading_where_its_codes_go(visit):
    ivo = visit(DESKTOP)
    ivo.sign_in(INSTALLER)
    page = ivo.go("/devices")
    row = page.locator("table.devices tbody tr", has_text="Door: Lobby")
    row.locator("a.unpair").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Unpair the lock linden/lobby from the door Lobby?"
    text = page.locator("main").inner_text()
    assert "The codes stay on linden/lobby" in text
    assert "written again to the next lock you pair with it" in text
    assert ivo.axe() == []
    ivo.screenshot("console-devices-unpair-desktop")
    # From the keyboard: the button, then Enter.
    page.locator("form[action='/devices/unpair'] button").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Unpaired." in page.locator("[role=status]").inner_text()
    first = page.locator("table.devices tbody tr").first
    assert "linden/lobby" in first.locator("th").inner_text()
    assert first.locator("form.pair select option").all_inner_texts() == ["Lobby"]
    assert page.locator("table.devices", has_text="Door: Lobby").count() == 0
    assert ivo.axe() == []


def test_the_installer_moves_a_door_contact_to_its_sensor_again(visit):
    ivo = visit(PHONE)
    ivo.sign_in(INSTALLER)
    page = ivo.go("/devices")
    row = page.locator("table.devices tbody tr", has_text="Sensor: Unit 1A door contact")
    device = row.locator("th").inner_text().split()[0]
    row.locator("a.unpair").click()
    page.wait_for_load_state()
    assert f"Unpair the device {device} from the sensor Unit 1A door contact?" == page.locator("h1").inner_text()
    assert ivo.axe() == []
    with page.expect_navigation():
        page.locator("form[action='/devices/unpair'] button").click()
    # Now free, the device gets the sensor form, offering the sensor it left.
    form = page.locator("form[action='/devices/pair-sensor']", has=page.locator(f"input[value='{device}']"))
    assert "Unit 1A door contact (door contact)" in form.locator("select option").all_inner_texts()
    form.locator("select").select_option(label="Unit 1A door contact (door contact)")
    assert ivo.axe() == []
    ivo.screenshot("console-devices-sensor-phone")
    with page.expect_navigation():
        form.locator("button").click()
    assert "The sensor is paired" in page.locator("[role=status]").inner_text()
    page.locator("table.devices tbody tr", has_text="Sensor: Unit 1A door contact").wait_for()
