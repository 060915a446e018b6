"""Issue 11, journey 5: a 500-unit building with 1,000 virtual locks, 100 of which change state
every second, on the manager's building page showing every door (docs/ARCHITECTURE.md,
decisions 79 and 80).

The whole path is the real one: a fleet of 1,000 virtual locks (`latchkey sim run`, its own
process) on the server's MQTT broker, their reports ingested and logged by `latchkey serve`,
carried by the live stream to the page in Chromium. `latchkey sim churn` takes each lock off
the network in turn, 100 a second, then brings each back: offline and back online are states
the building's staff follow on every door (decision 64; a unit's own locking and unlocking is
the household's). The page records, with its own clock, when each row shows the new state; the
figure is that instant minus the event's time (when latchkey took the lock's report; same
machine, one clock), and beside it the instant minus when the change was sent to the lock. It
prints p50 / p95 / max and how many changes never arrived, and writes them to
target/building-scale.json.

The journey's budget is 300 ms; the test fails only past a bound a loaded CI machine cannot
miss by load alone (a change not shown within 5 s at the 95th percentile, or a change lost),
so that what it guards is that every change arrives, and the figures are read from its output
(BENCHMARKS.md, "The building page at 1,000 locks").
"""

import json
import os
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import DESKTOP, PASSWORD, ROOT, binary

ADMIN = "admin@linden-court.example"
UNITS = 500
FLOORS = 25
PREFIX = "tower/lock-"
PER_SECOND = 100
# Generous: the journey's budget is 300 ms, this bound is what a loaded CI box cannot miss.
BOUND_P95_MS = 5_000


class Api:
    """The JSON API as the admin, with the session cookie a sign-in sets."""

    def __init__(self, base):
        self.base = base
        answer = self.call("POST", "/api/v1/auth/login", {"email": ADMIN, "password": PASSWORD}, cookie=False)
        self.cookie = answer.headers["Set-Cookie"].split(";")[0]

    def call(self, method, path, body=None, cookie=True):
        request = urllib.request.Request(self.base + path, method=method)
        request.add_header("Content-Type", "application/json")
        if cookie:
            request.add_header("Cookie", self.cookie)
            request.add_header("Origin", self.base)
        data = None if body is None else json.dumps(body).encode()
        with urllib.request.urlopen(request, data, timeout=60) as answer:
            answer.body = json.loads(answer.read() or b"null")
            return answer


def build_tower(api):
    """500 units on 25 floors, each with its entry and its storage room, every door's lock
    paired with a virtual lock `tower/lock-N`. Returns the property and {lock name: door id}."""
    prop = api.call(
        "POST",
        "/api/v1/properties",
        {"name": "Tower at scale", "timezone": "Europe/Berlin"},
    ).body["id"]

    def unit(i):
        floor = 1 + i // (UNITS // FLOORS)
        return api.call("POST", f"/api/v1/properties/{prop}/units", {"label": f"T{floor}-{i}", "floor": floor}).body[
            "id"
        ]

    def door(args):
        n, unit_id, name, kind = args
        d = api.call(
            "POST",
            f"/api/v1/properties/{prop}/doors",
            {"name": name, "kind": kind, "unit_id": unit_id, "mode": "normal", "pin_slots": 1},
        ).body["id"]
        api.call("PUT", f"/api/v1/doors/{d}/lock", {"device": f"{PREFIX}{n}"})
        return f"{PREFIX}{n}", d

    with ThreadPoolExecutor(4) as pool:
        units = list(pool.map(unit, range(UNITS)))
        wanted = []
        for i, u in enumerate(units):
            wanted.append((2 * i, u, f"T{i} entry", "unit_entry"))
            wanted.append((2 * i + 1, u, f"T{i} storage room", "amenity"))
        doors = dict(pool.map(door, wanted))
    return prop, doors


def pctl(values, p):
    values = sorted(values)
    return values[max(0, min(len(values) - 1, int(len(values) * p + 0.999999) - 1))]


def test_every_state_change_of_1000_locks_reaches_the_building_page(visit, server):
    api = Api(server.base)
    started = time.monotonic()
    prop, doors = build_tower(api)
    print(f"\nbuilt 500 units and {len(doors)} paired doors in {time.monotonic() - started:.0f} s")
    log = open(os.path.join(server.dir, "sim.log"), "wb")
    fleet = subprocess.Popen(
        [binary(), "sim", "run", "--mqtt-url", server.mqtt, "--locks", str(len(doors)), "--prefix", PREFIX,
         "--actuation-ms", "0", "--qos", "1"],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        assert "locks on" in fleet.stdout.readline(), "the fleet did not connect; see sim.log"
        ada = visit(DESKTOP)
        # A thousand locks connecting keep the server busy; this test measures their changes
        # reaching the page (below), not how fast pages load meanwhile, so loads may take long.
        ada.page.set_default_timeout(120_000)
        ada.page.set_default_navigation_timeout(120_000)
        ada.sign_in(ADMIN)
        page = ada.page
        # Every lock has reported once: no door is left without a report.
        deadline = time.monotonic() + 180
        while True:
            ada.go(f"/building?property={prop}&floor=all")
            rows = page.locator("table.doors tbody tr").count()
            silent = page.locator("table.doors .state[data-state=unknown]").count()
            if rows == len(doors) and silent == 0:
                break
            assert time.monotonic() < deadline, f"{silent} of {rows} locks never reported"
            time.sleep(2)
        page.evaluate(
            """() => { window.seen = [];
            const body = document.querySelector('table.doors tbody');
            new MutationObserver((changes) => { const now = Date.now();
              for (const c of changes) { const s = c.target;
                window.seen.push([s.closest('tr').id, s.getAttribute('data-state'), Date.parse(s.getAttribute('data-at')), now]); } })
              .observe(body, {attributes: true, subtree: true, attributeFilter: ['data-state']}); }"""
        )
        page.evaluate("window.notReloaded = true")
        churn = subprocess.run(
            [binary(), "sim", "churn", "--mqtt-url", server.mqtt, "--locks", str(len(doors)), "--prefix", PREFIX,
             "--per-second", str(PER_SECOND), "--rounds", "2"],
            check=True,
            capture_output=True,
            text=True,
        )
        sent = [json.loads(line) for line in churn.stdout.splitlines()]
        assert len(sent) == 2 * len(doors)
        shows = {"offline": "offline", "online": "locked"}
        # Wait until every change is on the page, or 15 s after the last was sent.
        deadline = time.monotonic() + 15
        while True:
            seen = page.evaluate("window.seen")
            shown = {}
            for row, state, at, now in seen:
                shown.setdefault((row, state), []).append((now, at))
            missed, latency, end_to_end = [], [], []
            for change in sent:
                key = (f"door-{doors[change['lock']]}", shows[change["op"]])
                hits = [(now, at) for now, at in shown.get(key, []) if now >= change["sent_ms"]]
                if not hits:
                    missed.append(change)
                    continue
                now, at = min(hits)
                latency.append(now - at)
                end_to_end.append(now - change["sent_ms"])
            if not missed or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert page.evaluate("window.notReloaded") is True, "the page was reloaded"
        figures = {
            "locks": len(doors),
            "changes": len(sent),
            "per_second": PER_SECOND,
            "missed": len(missed),
            "event_to_page_ms": summary(latency),
            "sent_to_page_ms": summary(end_to_end),
            "churn_seconds": (sent[-1]["sent_ms"] - sent[0]["sent_ms"]) / 1000,
        }
        print("building page at 1,000 locks:", json.dumps(figures))
        out = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
        out.mkdir(parents=True, exist_ok=True)
        (out / "building-scale.json").write_text(json.dumps(figures, indent=2))
        assert not missed, f"{len(missed)} changes never reached the page, e.g. {missed[:3]}"
        assert figures["event_to_page_ms"]["p95"] < BOUND_P95_MS, figures
    finally:
        fleet.terminate()
        try:
            fleet.wait(timeout=15)
        except subprocess.TimeoutExpired:
            fleet.kill()
        log.close()


def summary(values):
    if not values:
        return {"p50": None, "p95": None, "max": None}
    return {"p50": pctl(values, 0.5), "p95": pctl(values, 0.95), "max": max(values)}
