"""The manager's console (docs/ARCHITECTURE.md, "The web app"): the building page lists every
door of the demo building with its live state and the sync of its codes; a door's state changes
in place when its lock reports, without a reload; the door page's emergency open needs a reason.
The pages pass axe at desktop and phone size, work from the keyboard, and are nobody else's."""

from conftest import DESKTOP, GUEST, PASSWORD, PHONE, RESIDENT

MANAGER = "manager@linden-court.example"


def row_of(page, name):
    row = page.locator("table.doors tbody tr", has_text=name).first
    return int(row.get_attribute("id").removeprefix("door-"))


def test_a_lock_report_changes_the_row_in_place_within_a_second(visit):
    maria = visit(DESKTOP)
    maria.sign_in(MANAGER)
    page = maria.go("/building")
    assert "Linden Court" in page.locator("h1").inner_text()
    lobby = row_of(page, "Lobby")
    state = page.locator(f"#door-{lobby} .state")
    assert state.get_attribute("data-state") == "locked", state.inner_text()
    # The page must not reload: a mark on the window survives only without one.
    page.evaluate("window.notReloaded = true")
    maria.server.sim("turn", "--lock", "linden/lobby", "unlock")
    page.locator(f"#door-{lobby} .state[data-state=unlocked]").wait_for(timeout=10_000)
    assert page.evaluate("window.notReloaded") is True, "the page was reloaded"
    assert state.inner_text() == "Unlocked"
    maria.screenshot("console-building-desktop")


def test_the_row_update_itself_takes_under_a_second_from_the_locks_report(visit):
    maria = visit(DESKTOP)
    maria.sign_in(MANAGER)
    page = maria.go("/building")
    lobby = row_of(page, "Lobby")
    page.evaluate(
        """(door) => { window.shownAt = null;
        const s = document.querySelector('#door-' + door + ' .state');
        new MutationObserver(() => { if (s.getAttribute('data-state') === 'unlocked' && !window.shownAt)
          window.shownAt = {now: Date.now(), at: s.getAttribute('data-at')}; })
          .observe(s, {attributes: true}); }""",
        lobby,
    )
    maria.server.sim("turn", "--lock", "linden/lobby", "unlock")
    page.locator(f"#door-{lobby} .state[data-state=unlocked]").wait_for(timeout=10_000)
    shown = page.evaluate("window.shownAt")
    # The event's time is when latchkey took the lock's report; same machine, one clock.
    latency_ms = shown["now"] - page.evaluate("(t) => Date.parse(t)", shown["at"])
    print(f"lock report to the building page's row: {latency_ms} ms")
    assert latency_ms < 1000, f"{latency_ms} ms from the lock's report to the row"


def test_the_emergency_open_needs_a_reason_and_opens_with_one(visit):
    maria = visit(DESKTOP)
    maria.sign_in(MANAGER)
    page = maria.go("/building")
    lobby = row_of(page, "Lobby")
    page.locator(f"#door-{lobby} th a").click()
    page.wait_for_selector("h2:has-text('Emergency open')")
    form = page.locator("form.emergency")
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    # The browser refuses the empty reason; nothing was sent.
    assert page.locator("#reason").evaluate("e => e.validity.valueMissing") is True
    assert "/emergency" not in page.url
    # Past the browser's check, the server refuses it too.
    csrf = form.locator("input[name=csrf]").input_value()
    answer = page.request.post(
        maria.server.base + f"/building/doors/{lobby}/emergency",
        form={"csrf": csrf, "reason": "", "password": PASSWORD},
        headers={"Origin": maria.server.base},
    )
    assert answer.status == 422, answer.status
    form.locator("#reason").fill("Fire alarm on floor 2, brigade at the door")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("[data-command]")
    page.locator(f"#door-{lobby} .state[data-state=unlocked]").wait_for(timeout=10_000)
    maria.screenshot("console-door-desktop")


def test_the_console_passes_axe_is_keyboard_reachable_and_is_nobody_elses(visit):
    for size in (DESKTOP, PHONE):
        maria = visit(size)
        maria.sign_in(MANAGER)
        page = maria.go("/building")
        assert maria.axe() == [], f"axe at {size}"
        lobby = row_of(page, "Lobby")
        # From the top, Tab reaches the floor filter, then the first door's link.
        page.keyboard.press("Tab")
        for _ in range(40):
            focused = page.evaluate("document.activeElement.id || document.activeElement.getAttribute('href')")
            if focused == "floor":
                break
            page.keyboard.press("Tab")
        assert focused == "floor", focused
        for _ in range(40):
            page.keyboard.press("Tab")
            href = page.evaluate("document.activeElement.getAttribute('href')") or ""
            if href.startswith("/building/doors/"):
                break
        assert href.startswith("/building/doors/"), href
        page.keyboard.press("Enter")
        page.wait_for_selector("h2:has-text('Emergency open')")
        assert maria.axe() == [], f"axe on the door page at {size}"
        if size == PHONE:
            maria.go("/building")
            maria.screenshot("console-building-phone")
            maria.go(f"/building/doors/{lobby}")
            maria.screenshot("console-door-phone")
    for email in (RESIDENT, GUEST):
        other = visit(PHONE)
        other.sign_in(email)
        page = other.go("/building")
        assert "Lobby" not in page.content()
        assert "Emergency open" not in page.content()
