"""The console's lockout cases, ledger and incidents (docs/LOCKOUT.md, "In the staff console").

Journey 1, the on-call manager at night: a case arrives on the open list without a reload → ID
check → the opening's fee for this hour is shown before anything is charged → confirmed, the
virtual lock opens → the ledger line is there and the downloaded CSV (the API's) holds it.

Journey 2, the battery dies: the case offers a verified locksmith → booked (check word, window)
→ completed with its cost → the landlord pays, the line links the lock's own events → the door
is marked for service → the incident is closed with a note.

The night is made certain rather than waited for: the test moves the office hours to another
day of the week and takes the free lockout out of the lease, so the fee shown is the after-hours fee
whatever the hour the test runs at. Every page passes axe at desktop and phone size, works from
the keyboard, and is nobody else's."""

import datetime
import json
import re
import urllib.error
import urllib.request
from zoneinfo import ZoneInfo

from conftest import DESKTOP, GUEST, PHONE, RESIDENT
from test_lockout import Api as AdminApi

MANAGER = "manager@linden-court.example"
ENTRY_LOCK = "linden/1a-entry"
ENTRY = "Unit 1A entry"


class Api(AdminApi):
    """The building's admin on the API (setting the lease's terms, looking up what the pages
    wrote), and a stranger's phone on the public lockout endpoint."""

    def patch(self, path, body):
        req = urllib.request.Request(
            self.base + path,
            data=json.dumps(body).encode(),
            method="PATCH",
            headers={"Cookie": self.cookie, "Origin": self.base, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as res:
                return json.loads(res.read())
        except urllib.error.HTTPError as e:
            raise AssertionError(f"PATCH {path}: {e.code} {e.read().decode()}") from e

    def post_public(self, path, body):
        req = urllib.request.Request(
            self.base + path,
            data=json.dumps(body).encode(),
            headers={"Origin": self.base, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as res:
            return json.loads(res.read())


def not_today():
    """A day of the week that is neither today nor tomorrow in the building's time zone."""
    today = datetime.datetime.now(ZoneInfo("Europe/Berlin")).weekday()
    return ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][(today + 3) % 7]


def after_hours_without_free_lockouts(api):
    """The lease charges from the first lockout, and the office is not open now: its one hour
    a week is on another day."""
    prop = api.get("/api/v1/properties/1")
    policy = dict(prop["policy"], free_lockouts_per_year=0)
    api.patch(
        "/api/v1/properties/1",
        {
            "policy": policy,
            "office_hours": {"type": "weekly", "windows": [{"days": [not_today()], "start": "09:00", "end": "10:00"}]},
        },
    )
    return policy["lockout_fee_after_hours_cents"]


def ana_calls_from_a_friends_phone(api):
    """A case opened on the public API, without signing in; its id from the staff's list."""
    before = {c["id"] for c in api.get("/api/v1/properties/1/lockouts")}
    api.post_public("/api/v1/lockouts", {"property_id": 1, "unit": "1A", "identity": "Ana"})
    new = [c for c in api.get("/api/v1/properties/1/lockouts") if c["id"] not in before]
    assert len(new) == 1 and new[0]["person_id"], new
    return new[0]["id"]


def ledger_of_case(api, case):
    return [line for line in api.get("/api/v1/properties/1/ledger") if line["case_id"] == case]


def money(cents):
    return f"{cents // 100}.{cents % 100:02d}"


def test_the_on_call_manager_proves_opens_at_the_after_hours_fee_shown_first_and_the_csv_holds_it(visit):
    maria = visit(PHONE)
    api = Api(maria.server)
    fee = after_hours_without_free_lockouts(api)
    maria.sign_in(MANAGER)
    page = maria.go("/console/cases")
    assert page.locator("[data-no-open-cases]").count() == 1
    page.evaluate("window.notReloaded = true")

    case = ana_calls_from_a_friends_phone(api)
    row = page.locator(f"#case-{case}[data-case-state=open]")
    row.wait_for(timeout=10_000)
    assert page.evaluate("window.notReloaded") is True, "the list was reloaded"
    assert "1A" in row.inner_text() and "Ana" in row.inner_text()
    maria.screenshot("console-cases-phone")

    row.locator("a").click()
    page.wait_for_selector("#id-check")
    assert "Open: not proven yet" in page.locator("#case-live").inner_text()
    # Nothing opens before proof: no opening button, and the confirmation page refuses.
    assert page.locator(".open-doors button").count() == 0
    door = page.locator("#forced-door option", has_text=ENTRY).get_attribute("value")
    refused = page.request.get(maria.server.base + f"/console/cases/{case}/open?door={door}")
    assert refused.status == 403 and "not proven" in refused.text(), refused.status
    # An empty document is refused by the browser, then by the server, with nothing changed.
    page.click("#id-check button[type=submit]")
    assert page.locator("#document").evaluate("e => e.validity.valueMissing") is True
    csrf = page.locator("#id-check input[name=csrf]").input_value()
    answer = page.request.post(
        maria.server.base + f"/console/cases/{case}/id-check",
        form={"csrf": csrf, "document": "   "},
        headers={"Origin": maria.server.base},
    )
    assert answer.status == 422, answer.status
    assert "Document" in answer.text()
    assert api.get(f"/api/v1/lockouts/{case}")["state"] == "open"

    page.fill("#document", "passport, photo matches")
    page.click("#id-check button[type=submit]")
    page.wait_for_selector("#case-live [data-case-state=proven]")
    assert "ID check recorded" in page.locator("#case-notice").inner_text()
    assert "ID checked in person by Maria Manager" in page.locator("[data-timeline]").inner_text()

    page.click(f".open-doors button:has-text('{ENTRY}')")
    page.wait_for_selector("#fee")
    shown = page.locator("#fee").inner_text()
    assert "after hours" in shown, shown
    assert money(fee) in shown, shown
    assert page.locator("[data-due-cents]").get_attribute("data-due-cents") == str(fee)
    maria.screenshot("console-open-fee-phone")
    assert maria.axe() == [], "axe on the fee confirmation"
    # Shown, not charged: the ledger has nothing for the case yet and the door is still locked.
    assert ledger_of_case(api, case) == []

    page.click(f"button:has-text('Open the door and charge {money(fee)}')")
    page.wait_for_selector("#case-notice:not([hidden])")
    assert "charged as shown" in page.locator("#case-notice").inner_text()
    page.locator("#case-live [data-case-state=resolved]").wait_for(timeout=15_000)
    timeline = page.locator("[data-timeline]").inner_text()
    assert f"Staff opened the {ENTRY}; charged {money(fee)} by Maria Manager" in timeline, timeline
    # Resolved only once the virtual lock confirmed it opened.
    assert "Resolved: they are in" in timeline, timeline
    lines = ledger_of_case(api, case)
    assert len(lines) == 1 and lines[0]["amount_cents"] == fee and lines[0]["payer"] == "tenant", lines

    page = maria.go("/console/ledger")
    line = page.locator(f"#line-{lines[0]['id']}")
    assert money(fee) in line.inner_text() and f"Case {case}" in line.inner_text()
    assert "lockout fee (after hours)" in line.inner_text()
    maria.screenshot("console-ledger-phone")
    with page.expect_download() as download:
        page.click("#ledger-csv")
    csv = open(download.value.path(), encoding="utf-8", newline="").read()
    same = page.request.get(maria.server.base + "/api/v1/properties/1/ledger.csv").text()
    assert csv == same, "the page's CSV is the API's"
    assert re.search(rf"^{lines[0]['id']},[^,]+,\d+,{case},staff_opening,tenant,{fee},false,", csv, re.M), csv

    # The filters keep it, and leave it out when asked for locksmiths only.
    page.select_option("#kind", "locksmith")
    page.click("form.filters button[type=submit]")
    page.wait_for_selector("[data-ledger-empty]")
    bad = page.request.get(maria.server.base + "/console/ledger?from=5th+of+May")
    assert bad.status == 422 and "2026-12-05" in bad.text()


def test_a_dead_battery_sends_a_locksmith_the_landlord_pays_and_the_incident_is_closed(visit):
    maria = visit(DESKTOP)
    api = Api(maria.server)
    maria.sign_in(MANAGER)
    # The battery runs low (the lock reports it), then dies: the lock falls silent.
    maria.server.sim("battery", "--lock", ENTRY_LOCK, "8")
    page = maria.go("/building")
    page.locator("table.doors tbody tr", has_text=ENTRY).locator(".battery:not([hidden])").wait_for(timeout=10_000)
    maria.server.sim("battery", "--lock", ENTRY_LOCK, "0")
    maria.server.sim("offline", "--lock", ENTRY_LOCK)
    page.locator("table.doors tbody tr", has_text=ENTRY).locator(".state[data-state=offline]").wait_for(timeout=15_000)

    case = ana_calls_from_a_friends_phone(api)
    page = maria.go(f"/console/cases/{case}")
    ways = page.locator("table.ways").inner_text()
    assert "verified locksmith" in ways and "no code can help" in ways, ways
    maria.screenshot("console-case-desktop")
    assert maria.axe() == [], "axe on the case page"

    # A window out of range is refused with nothing booked.
    csrf = page.locator("#book input[name=csrf]").input_value()
    answer = page.request.post(
        maria.server.base + f"/console/cases/{case}/locksmith",
        form={"csrf": csrf, "locksmith": page.locator("#locksmith option").first.get_attribute("value"), "window": "5"},
        headers={"Origin": maria.server.base},
    )
    assert answer.status == 422 and "15 and 480" in answer.text(), answer.status
    assert api.get(f"/api/v1/lockouts/{case}")["locksmith_jobs"] == []

    smith = page.locator("#locksmith option", has_text="Aufsperrdienst Berlin 24h").get_attribute("value")
    page.select_option("#locksmith", smith)
    page.fill("#window", "90")
    page.click("#book button[type=submit]")
    page.wait_for_selector("#check-word")
    word = page.locator("#check-word").inner_text()
    assert re.fullmatch(r"[a-z]+-\d{2}", word), word
    assert "the lock has failed" in page.locator("[data-shown-once]").inner_text().lower()
    assert page.locator("#job-token").inner_text().startswith("/job?t=lkj_")
    maria.screenshot("console-booked-desktop")
    page.click("a:has-text('Back to the case')")
    job = page.locator("[data-job-status]").first
    assert word in job.inner_text()

    # A cost that is not an amount is refused; nothing is recorded.
    form = page.locator("form.complete-job")
    answer = page.request.post(
        maria.server.base + form.get_attribute("action"),
        form={"csrf": csrf, "work": "battery_jump", "cost": "a lot"},
        headers={"Origin": maria.server.base},
    )
    assert answer.status == 422 and "150.00" in answer.text()
    assert ledger_of_case(api, case) == []

    form.locator("select[name=work]").select_option("battery_jump")
    form.locator("input[name=cost]").fill("150.00")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#case-notice:not([hidden])")
    page.locator("#case-live [data-case-state=resolved]").wait_for(timeout=10_000)
    assert "paid by the landlord; the lock is marked for service" in page.locator("[data-timeline]").inner_text()

    lines = ledger_of_case(api, case)
    assert len(lines) == 1, lines
    assert lines[0]["payer"] == "landlord" and lines[0]["amount_cents"] == 15_000, lines
    assert lines[0]["evidence"], "the waiver links the lock's own events"
    page = maria.go("/console/ledger?kind=locksmith")
    line = page.locator(f"#line-{lines[0]['id']}").inner_text()
    assert "landlord" in line and "150.00" in line
    assert f"#{lines[0]['evidence'][0]}" in line, line

    page = maria.go("/console/incidents")
    incident = page.locator(".card", has_text=f"Marked for service: {ENTRY}")
    assert "The lock had failed" in incident.inner_text()
    maria.screenshot("console-incidents-desktop")
    assert maria.axe() == [], "axe on the incidents"
    incident.locator("a").first.click()
    page.wait_for_selector("#close")
    page.click("#close button[type=submit]")
    assert page.locator("#note").evaluate("e => e.validity.valueMissing") is True
    page.fill("#note", "battery replaced, lock tested")
    page.click("#close button[type=submit]")
    page.wait_for_selector("[data-incident-state=closed]")
    assert all(i["closed_at"] for i in api.get("/api/v1/properties/1/incidents"))
    page = maria.go("/console/incidents")
    assert page.locator("[data-no-open-incidents]").count() == 1


def test_the_console_pages_pass_axe_are_keyboard_usable_and_are_nobody_elses(visit):
    maria = visit(DESKTOP)
    api = Api(maria.server)
    case = ana_calls_from_a_friends_phone(api)
    maria.sign_in(MANAGER)
    for size in (DESKTOP, PHONE):
        maria.page.set_viewport_size(size)
        for name, path in (
            ("cases-list", "/console/cases"),
            ("case-open", f"/console/cases/{case}"),
            ("ledger-empty", "/console/ledger"),
            ("incidents-none", "/console/incidents"),
        ):
            page = maria.go(path)
            assert maria.axe() == [], f"axe on {path} at {size}"
            maria.screenshot(f"console-{name}-{'desktop' if size == DESKTOP else 'phone'}")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= size["width"] + 1, f"{path} scrolls sideways at {size}: {width}"
    # From the top of the list, Tab reaches the case's link; Enter opens it; Tab reaches the
    # ID check's field, and typing and Enter record it.
    page = maria.go("/console/cases")
    for _ in range(40):
        page.keyboard.press("Tab")
        href = page.evaluate("document.activeElement.getAttribute('href')") or ""
        if href == f"/console/cases/{case}":
            break
    assert href == f"/console/cases/{case}", href
    page.keyboard.press("Enter")
    page.wait_for_selector("#id-check")
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "document":
            break
    assert page.evaluate("document.activeElement.id") == "document"
    page.keyboard.type("driving licence, photo matches")
    page.keyboard.press("Enter")
    page.wait_for_selector("#case-live [data-case-state=proven]")

    # A resident, a guest and the signed-out get no console page and no data; nothing changes.
    for email in (RESIDENT, GUEST, None):
        other = visit(PHONE)
        if email:
            other.sign_in(email)
        for path in ("/console/cases", f"/console/cases/{case}", "/console/ledger", "/console/incidents"):
            body = other.go(path).content()
            for marker in (f'id="case-{case}"', "data-timeline", "case-live", "Record the ID check"):
                assert marker not in body, (email, path, marker)
        if email:
            other.go("/security")
            csrf = other.page.locator("form[action='/sign-out'] input[name=csrf]").input_value()
            answer = other.page.request.post(
                other.server.base + f"/console/cases/{case}/forced-entry",
                form={"csrf": csrf, "door": "1", "how": "kicked in"},
                headers={"Origin": other.server.base},
            )
            assert answer.status in (403, 404), answer.status
    assert api.get("/api/v1/properties/1/incidents") == []
