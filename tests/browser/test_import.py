"""Onboarding a real building (docs/OPERATIONS.md, "Importing a building"): the admin creates a
new property and uploads its spreadsheet, 200 units and 400 residents with three bad lines. The
check names exactly those three lines and writes nothing; the fixed file imports; the readiness
heat map shows the new building's gaps, and spare keys held by neighbours close some of them."""

import re

from conftest import DESKTOP, PHONE

ADMIN = "admin@linden-court.example"
HEADER = "unit,floor,door,resident_name,resident_email,role\n"
# Three lines spoilt, each as a spreadsheet gets spoilt: line number -> (what is done to the
# line, the words the page says about it).
BAD_LINES = {
    52: (lambda l: l.replace("resident201a@", "resident201a-at-"), "not an e-mail address"),
    153: (lambda l: l.replace(",household", ",landlord"), "role `landlord`"),
    301: (lambda l: "603" + l[3:], "unit 603 is already on line"),
}
MANAGER = "manager@linden-court.example"


def building_lines():
    """200 units on floors 1 to 8, two residents each: line 2 onwards, two lines per unit."""
    lines = []
    for floor in range(1, 9):
        for n in range(1, 26):
            unit = f"{floor}{n:02d}"
            lines.append(f"{unit},{floor},Door {unit},Resident {unit} A,resident{unit}a@birch.example,")
            lines.append(f"{unit},,,Resident {unit} B,resident{unit}b@birch.example,household")
    return lines


def csv_with(lines):
    return (HEADER + "\n".join(lines) + "\n").encode()


def upload(page, name, body):
    page.set_input_files("#file", files=[{"name": name, "mimeType": "text/csv", "buffer": body}])
    page.click("form.card button[type=submit]")
    page.wait_for_load_state()


def row_class(page, unit_id):
    """The class of the unit's first cell of the heat map (Monday 00:00, night)."""
    row = page.locator(f"tr:has(th a[href='#unit-{unit_id}'])")
    return row.locator("td").first.get_attribute("class")


def test_a_200_unit_building_with_three_bad_lines_is_refused_then_imported_and_its_gaps_shown(visit, server):
    ada = visit(DESKTOP)
    ada.sign_in(ADMIN)
    api = ada.page.request
    made = api.post(
        server.base + "/api/v1/properties",
        data={"name": "Birch House", "timezone": "Europe/Berlin"},
        headers={"Origin": server.base},
    )
    assert made.status == 201, made.text()
    pid = made.json()["id"]

    good = building_lines()
    assert len(good) == 400
    bad = list(good)
    for line, (spoil, _) in BAD_LINES.items():
        bad[line - 2] = spoil(good[line - 2])
    assert bad[299].startswith("603,,,Resident 625 B"), "line 301 repeats unit 603 apart from its lines"

    page = ada.go(f"/building/import?property={pid}")
    assert page.locator("h1").inner_text() == "Import a building into Birch House"
    assert ada.axe() == [], "axe on the empty import page"
    upload(page, "birch.csv", csv_with(bad))
    heading = page.locator("#errors-heading").inner_text()
    assert heading == "3 lines are wrong; nothing was imported", heading
    items = page.locator("#errors li").all_inner_texts()
    assert len(items) == 3, items
    for item, (line, (_, words)) in zip(items, sorted(BAD_LINES.items())):
        assert item.startswith(f"Line {line}:"), item
        assert words.lower() in item.lower(), item
    assert ada.axe() == [], "axe on the refused check"
    ada.screenshot("import-refused")
    units = api.get(f"{server.base}/api/v1/properties/{pid}/units").json()
    assert units == [], "a refused file writes nothing"

    upload(page, "birch-fixed.csv", csv_with(good))
    assert "birch-fixed.csv adds 200 units, 200 entry doors and 400 people" in page.locator("#good").inner_text()
    assert api.get(f"{server.base}/api/v1/properties/{pid}/units").json() == [], "a check writes nothing"
    ada.screenshot("import-checked")
    page.click("#good button[type=submit]")
    page.wait_for_load_state()
    assert "Added 200 units, 200 entry doors and 400 people to Birch House" in page.locator("#imported").inner_text()
    assert ada.axe() == [], "axe on the summary"
    ada.screenshot("import-done")

    page.click("#imported a[href^='/readiness']")
    page.wait_for_load_state()
    units = {u["label"]: u["id"] for u in api.get(f"{server.base}/api/v1/properties/{pid}/units").json()}
    assert len(units) == 200
    page = ada.go(f"/readiness?property={pid}&failure=phone_gone")
    gaps = page.locator("tbody tr td.w0, tbody tr td.w1").count()
    assert gaps > 0, "the new building's residents have no credential yet: gaps everywhere"
    before = row_class(page, units["101"])
    assert before in ("w0", "w1"), before
    ada.screenshot("import-readiness")

    # The residents of 102 hold spare keys to 101 and 103: their neighbours' cells turn green.
    people = api.get(f"{server.base}/api/v1/properties/{pid}/people").json()
    neighbours = [p["id"] for p in people if p["name"].startswith("Resident 102 ")]
    assert len(neighbours) == 2
    for unit in ("101", "103"):
        for holder in neighbours:
            granted = api.post(
                f"{server.base}/api/v1/properties/{pid}/spare-keys",
                data={"unit_id": units[unit], "holder_id": holder},
                headers={"Origin": server.base},
            )
            assert granted.status == 201, granted.text()
    page.reload()
    after = row_class(page, units["101"])
    assert int(after[1:]) >= 2 > int(before[1:]), (before, after)
    assert row_class(page, units["103"]) == after
    assert row_class(page, units["104"]) == before, "a unit without spare keys keeps its gap"


def test_the_import_page_is_usable_by_keyboard_at_phone_width_and_nobody_elses(visit, server):
    ada = visit(PHONE)
    ada.sign_in(MANAGER)
    page = ada.go("/building")
    link = page.locator("a[href^='/building/import']")
    assert link.count() == 1, "the building page links to the import"
    link.click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().startswith("Import a building into")
    assert ada.axe() == [], "axe at phone width"
    ada.screenshot("import-phone")
    # The file field and its button are reached with the keyboard alone.
    page.focus("#file")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused.strip() == "Check the file", focused
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"no sideways scrolling at phone width ({width}px)"

    resident = visit(PHONE)
    resident.sign_in("ana.1a@linden-court.example")
    page = resident.go("/building/import")
    assert "Import a building" not in page.content()
    assert re.search(r"Not allowed|staff", page.content())
