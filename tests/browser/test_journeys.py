"""Journeys of residents and visitors in real headless Chromium, each against a fresh
`latchkey serve --demo` with its virtual locks. Every visit also asserts (in the fixture) that
no request went to another origin and no Content-Security-Policy violation happened."""

import re

from conftest import DESKTOP, GUEST, PASSWORD, PHONE, RESIDENT


def test_a_resident_signs_in_and_unlocks_the_unit_door_confirmed_by_the_lock(visit):
    v = visit()
    v.sign_in(RESIDENT)
    page = v.page
    assert page.url == v.server.base + "/"
    assert page.locator("h1").inner_text() == "Your doors"
    card = page.locator("li.door", has_text="Unit 1A entry")
    assert card.locator(".state").inner_text() == "Locked"
    assert page.locator("li.door", has_text="Lobby").count() == 1
    v.screenshot("home")
    # Ana has no passkey: the unlock asks for her password, fresh.
    card.locator("input[name=password]").fill(PASSWORD)
    card.locator("button.big", has_text="Unlock").click()
    confirmed = page.locator("li.door", has_text="Unit 1A entry").locator("[data-command=confirmed]")
    confirmed.wait_for(timeout=15_000)
    assert re.match(r"Unlocked, confirmed by the lock at \d\d:\d\d:\d\d\.", confirmed.inner_text())
    card = page.locator("li.door", has_text="Unit 1A entry")
    assert card.locator(".state").inner_text() == "Unlocked"
    assert card.locator("button.big").inner_text().startswith("Lock")
    v.screenshot("home-unlocked")


def test_a_wrong_password_is_told_in_plain_words(visit):
    v = visit()
    v.sign_in(RESIDENT, password="not-the-password")
    page = v.page
    assert page.url == v.server.base + "/sign-in"
    assert "The e-mail address or the password is wrong" in page.locator("#sign-in-error").inner_text()
    assert page.input_value("#email") == RESIDENT
    v.screenshot("sign-in-wrong-password")


def test_a_guest_code_is_shown_once_and_appears_in_the_guests_codes(visit):
    resident = visit()
    resident.sign_in(RESIDENT)
    page = resident.page
    page.click("nav a[href='/household']")
    page.select_option("#person", label="Walter the dog walker (Guest)")
    page.fill("#label", "Dog walking")
    page.click("form[action='/household/guest-codes'] button[type=submit]")
    pin = page.locator("[data-guest-pin]")
    code = pin.inner_text().strip()
    assert re.fullmatch(r"\d{4,8}", code), code
    resident.screenshot("household-code-shown-once")
    row = page.locator("li.code", has_text="Dog walking")
    assert "Mon, Tue, Wed, Thu, Fri 09:00–17:00" in row.inner_text()
    page.click("nav a[href='/household']")
    assert page.locator("li.code", has_text="Dog walking").count() == 1
    assert page.locator("[data-guest-pin]").count() == 0
    assert code not in page.content()

    guest = visit()
    guest.sign_in(GUEST)
    guest.page.click("nav a[href='/codes']")
    assert guest.page.locator("li.code", has_text="Dog walking").count() == 1
    assert code not in guest.page.content()


def test_the_locked_out_page_looks_the_same_for_a_real_resident_and_a_made_up_one(visit):
    def case_page(unit, identity):
        v = visit()
        v.go("/sign-in")
        v.page.click("main a[href='/locked-out']")
        v.page.fill("#unit", unit)
        v.page.fill("#identity", identity)
        v.page.click("form[action='/locked-out'] button[type=submit]")
        v.page.wait_for_url(v.server.base + "/locked-out/case")
        assert all("lkc_" not in u for u in v.requests), "the case token appeared in a URL"
        text = v.page.locator("main").inner_text()
        return v, re.sub(r"\d\d:\d\d", "HH:MM", text)

    real, real_text = case_page("1A", "Ana")
    real.screenshot("locked-out-case")
    made_up, made_up_text = case_page("9Z", "Mallory Nobody")
    assert real_text == made_up_text
    assert "Open: prove who you are" in real_text


PAGES_PUBLIC = [
    ("sign-in", "/sign-in"),
    ("locked-out", "/locked-out"),
    ("not-found", "/no-such-page"),
    ("welcome-bad-link", "/welcome?t=lki_unknown"),
]
PAGES_SIGNED = [
    ("home", "/"),
    ("codes", "/codes"),
    ("household", "/household"),
    ("activity", "/activity"),
    ("security", "/security"),
    ("erasure", "/security/erasure"),
]


def test_every_page_passes_axe_at_phone_and_desktop_size(visit):
    for size_name, size in (("phone", PHONE), ("desktop", DESKTOP)):
        v = visit(size)
        problems = {}
        for name, path in PAGES_PUBLIC:
            v.go(path)
            problems[name] = v.axe()
            if size is PHONE:
                v.screenshot(name)
        v.go("/locked-out")
        v.page.fill("#unit", "1A")
        v.page.fill("#identity", "Ana")
        v.page.click("form[action='/locked-out'] button[type=submit]")
        v.page.wait_for_url(v.server.base + "/locked-out/case")
        problems["case"] = v.axe()
        v.sign_in(RESIDENT)
        for name, path in PAGES_SIGNED:
            v.go(path)
            problems[name] = v.axe()
            if size is PHONE:
                v.screenshot(name)
        bad = {k: p for k, p in problems.items() if p}
        assert bad == {}, f"serious or critical axe violations at {size_name} size: {bad}"


FIRST_PAGE_BUDGET = 100 * 1024


def test_the_first_page_is_within_its_budget_and_loads_nothing_from_elsewhere(visit):
    v = visit()
    v.go("/")
    v.page.wait_for_load_state("networkidle")
    assert v.page.url == v.server.base + "/sign-in"
    sizes = v.page.evaluate(
        "() => performance.getEntries()"
        ".filter(e => e.entryType === 'navigation' || e.entryType === 'resource')"
        ".map(e => ({name: e.name, bytes: e.transferSize}))"
    )
    total = sum(s["bytes"] for s in sizes)
    print(f"first page: {total} bytes transferred in {len(sizes)} responses: {sizes}")
    assert total <= FIRST_PAGE_BUDGET, sizes
    assert all(s["name"].startswith(v.server.base + "/") for s in sizes)
