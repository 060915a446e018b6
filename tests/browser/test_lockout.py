"""Journey 3: the phone is dead in the night and the resident is outside, on a borrowed phone (a
fresh browser context with no session). "I'm locked out" → the case → a code from the
authenticator app → proven → the spare-key holder, signed in elsewhere, sees the prompt appear
live and releases a one-time PIN → typed at the virtual lock → the door opens → the case page
shows it resolved and the household sees it. An impostor on the same page changes nothing and
sees the same page as a real resident."""

import base64
import hashlib
import hmac
import json
import re
import struct
import time
import urllib.request

from conftest import DESKTOP, PASSWORD, PHONE, RESIDENT
from test_passkeys import cli

ANA = "Ana"
MARTA = "marta.1a@linden-court.example"
OLGA = "olga@linden-court.example"
OLGA_PASSWORD = "olga-holds-the-spare-key"
ENTRY_LOCK = "linden/1a-entry"


def totp(secret, at=None, period=30, digits=6):
    """RFC 6238 with HMAC-SHA1: what an authenticator app on another device shows."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    step = int((time.time() if at is None else at) // period)
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


class Api:
    """The building's admin on the API, for what the test needs to look up (not the journey)."""

    def __init__(self, server):
        self.base = server.base
        req = urllib.request.Request(
            self.base + "/api/v1/auth/login",
            data=json.dumps({"email": "admin@linden-court.example", "password": PASSWORD}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as res:
            cookie = res.headers["Set-Cookie"]
        self.cookie = cookie.split(";", 1)[0]

    def get(self, path):
        req = urllib.request.Request(self.base + path, headers={"Cookie": self.cookie})
        with urllib.request.urlopen(req, timeout=30) as res:
            return json.loads(res.read())

    def post(self, path, body):
        req = urllib.request.Request(
            self.base + path,
            data=json.dumps(body).encode(),
            headers={"Cookie": self.cookie, "Origin": self.base, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=60) as res:
            return json.loads(res.read())

    def person(self, email):
        return next(p for p in self.get("/api/v1/properties/1/people") if p["email"] == email)


def invited(visit, api, server, email, password):
    """A person without a password yet, invited from the terminal, sets one and is signed in."""
    person = api.person(email)["id"]
    out = cli(server, "person", "invite", "--person", str(person))
    token = re.search(r"/welcome\?t=(lki_[0-9a-f]{64})", out).group(1)
    v = visit()
    v.go("/welcome?t=" + token)
    v.page.fill("#password", password)
    v.page.click("form[action='/welcome'] button[type=submit]")
    v.page.wait_for_url(re.compile(r".*/security\?welcome=1$"))
    return v


def authenticator(visit, size=None):
    """Ana, earlier, at home: sets up an authenticator app; its key (shown once)."""
    ana = visit(size) if size else visit()
    ana.sign_in(RESIDENT)
    ana.go("/security")
    if ana.page.locator("#totp-password").count():
        ana.page.fill("#totp-password", PASSWORD)
    ana.page.click("form[action='/security/totp'] button[type=submit]")
    # The link as a QR code drawn by the server (inline SVG, named for screen readers), with
    # the key beside it as text for people who cannot scan.
    qr = ana.page.get_by_role("img", name="QR code of your authenticator key")
    assert qr.is_visible() and qr.bounding_box()["width"] >= 150
    return ana, ana.page.locator("[data-totp-secret]").inner_text().strip()


def start_case(visit, unit, identity):
    """A borrowed phone: no session, no cookie; from the sign-in page's link to the case page."""
    v = visit()
    v.go("/sign-in")
    v.page.click("main a[href='/locked-out']")
    v.page.fill("#unit", unit)
    v.page.fill("#identity", identity)
    v.page.click("form[action='/locked-out'] button[type=submit]")
    v.page.wait_for_url(v.server.base + "/locked-out/case")
    return v


def prove(v, code):
    v.page.fill("#code", code)
    v.page.click("form[action='/locked-out/case/totp'] button[type=submit]")
    v.page.wait_for_load_state()


def words(v):
    """The case page as its reader sees it, clock times aside."""
    return re.sub(r"\d\d:\d\d", "HH:MM", v.page.locator("main").inner_text())


def on_lock(api, person, label_part, status):
    """Waits until the person's credential named `label_part` has `status` on its lock."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        creds = api.get(f"/api/v1/properties/1/credentials?person_id={person}")
        found = [c for c in creds if label_part in (c.get("label") or "")]
        if found:
            locks = api.get(f"/api/v1/credentials/{found[0]['id']}/locks")
            if locks and all(l["status"] == status for l in locks):
                return
        time.sleep(0.2)
    raise AssertionError(f"the {label_part} credential never reached '{status}' on its lock")


def test_a_resident_with_a_dead_phone_gets_in_with_an_authenticator_code_and_a_spare_key(visit, server):
    api = Api(server)

    # Earlier, at home: Ana sets up an authenticator app on another device (the key is shown once).
    ana, secret = authenticator(visit)
    assert re.fullmatch(r"[A-Z2-7]+", secret), secret
    ana.screenshot("security-authenticator")
    ana.go("/security")
    assert ana.page.locator("[data-totp-secret]").count() == 0, "the key is shown once"
    ana.close()  # the phone is dead

    # Olga next door holds the spare key; Marta, Ana's partner, is away. Both have the app open.
    olga = invited(visit, api, server, OLGA, OLGA_PASSWORD)
    olga.go("/")
    marta = visit()
    marta.sign_in(MARTA)
    entry = marta.page.locator("li.door", has_text="Unit 1A entry")
    assert entry.locator(".state").inner_text() == "Locked"

    # On a borrowed phone: "I'm locked out".
    phone = start_case(visit, "1A", ANA)
    assert "Open: prove who you are" in words(phone)
    # The household sees the case at once; the spare-key holder only once it is proven.
    marta.page.locator("#cases [data-case-state=open]").wait_for(timeout=10_000)
    marta.screenshot("home-case-open")

    # A mistyped code first (one from an hour ago): refused in words, nothing else changes.
    prove(phone, totp(secret, at=time.time() - 3600))
    refused_real = words(phone)
    assert "That code does not prove this case" in refused_real
    assert olga.page.locator("#cases [data-case-prompt]").count() == 0

    # The code the authenticator shows now: proven.
    prove(phone, totp(secret))
    phone.page.locator("[data-case-state=proven]").wait_for(timeout=10_000)
    phone.screenshot("locked-out-case-proven")

    # Olga's open page shows the prompt without a reload, from the live stream.
    prompt = olga.page.locator("#cases [data-case-state=proven]")
    prompt.wait_for(timeout=10_000)
    assert "Locked out at 1A: Ana" in prompt.inner_text()
    olga.screenshot("spare-key-prompt")
    prompt.locator("button", has_text="Release a one-time PIN").click()
    pin = olga.page.locator("[data-spare-pin]").inner_text().strip()
    assert re.fullmatch(r"\d{8}", pin), pin
    olga.screenshot("spare-key-pin")

    # She tells Ana the PIN; Ana types it at the door once it is on the lock.
    ana_id = api.person(RESIDENT)["id"]
    on_lock(api, ana_id, "spare key", "set")
    olga.server.sim("keypad", "--lock", ENTRY_LOCK, "--pin", pin)
    marta.page.locator("li.door", has_text="Unit 1A entry").locator(
        ".state[data-state=unlocked]"
    ).wait_for(timeout=10_000)

    # The case page, still open on the borrowed phone, follows it to resolved by itself.
    phone.page.locator("[data-case-state=resolved]").wait_for(timeout=30_000)
    assert "The one-time PIN was used at the door." in phone.page.locator("main").inner_text()
    phone.screenshot("locked-out-case-resolved")
    # The household sees it too, live.
    marta.page.locator("#cases [data-case-state=resolved]").wait_for(timeout=10_000)
    assert "they are back in" in marta.page.locator("#cases").inner_text()
    # A one-time PIN: used once, it leaves the lock.
    on_lock(api, ana_id, "spare key", "removed")

    # An impostor tries the same page for 1A with a made-up name and a code: nothing changes,
    # and the page reads exactly as it did for the real resident's mistyped code.
    impostor = start_case(visit, "1A", "Mallory Nobody")
    prove(impostor, totp(secret))
    assert words(impostor) == refused_real
    assert impostor.page.locator("[data-case-state=open]").count() == 1
    time.sleep(1)  # long enough for a live prompt to have arrived, were there one
    assert marta.page.locator("#cases [data-case-prompt]").count() == 1
    marta.page.reload()
    assert marta.page.locator("#cases [data-case-prompt]").count() == 1
    olga.go("/")
    assert olga.page.locator("#cases [data-case-prompt]").count() == 1
    assert olga.page.locator("#cases [data-case-state=resolved]").count() == 1
    assert olga.page.locator("#cases button", has_text="Release").count() == 0


def test_the_lockout_pages_pass_axe_at_phone_and_desktop_size(visit, server):
    api = Api(server)
    for size in (PHONE, DESKTOP):
        ana, secret = authenticator(visit, size)
        problems = {"security-totp": ana.axe()}
        olga = visit(size) if size is DESKTOP else invited(visit, api, server, OLGA, OLGA_PASSWORD)
        if size is DESKTOP:
            olga.sign_in(OLGA, OLGA_PASSWORD)
        phone = start_case(visit, "1A", ANA)
        prove(phone, totp(secret, at=time.time() - 3600))
        problems["case-refused"] = phone.axe()
        # The desktop round's code is the next step's: a code once used is not taken again.
        prove(phone, totp(secret, at=time.time() + (30 if size is DESKTOP else 0)))
        problems["case-proven"] = phone.axe()
        olga.go("/")
        olga.page.locator("#cases [data-case-state=proven]").first.wait_for(timeout=10_000)
        problems["spare-key-prompt"] = olga.axe()
        olga.page.locator("#cases button", has_text="Release a one-time PIN").first.click()
        olga.page.locator("[data-spare-pin]").wait_for()
        problems["spare-key-pin"] = olga.axe()
        bad = {k: p for k, p in problems.items() if p}
        assert bad == {}, f"serious or critical axe violations at {size}: {bad}"


def test_a_locksmith_says_the_check_word_at_the_door_then_gets_the_code_for_the_window(visit, server):
    api = Api(server)
    _, secret = authenticator(visit)
    phone = start_case(visit, "1A", ANA)
    prove(phone, totp(secret))
    phone.page.locator("[data-case-state=proven]").wait_for(timeout=10_000)

    # The manager books the round-the-clock service for the case.
    case = api.get("/api/v1/properties/1/lockouts")[0]["id"]
    smith = next(l for l in api.get("/api/v1/properties/1/locksmiths") if "24h" in l["company"])
    booked = api.post(f"/api/v1/lockouts/{case}/locksmith-jobs", {"locksmith_id": smith["id"]})
    word, token = booked["job"]["check_word"], booked["job_token"]

    # The resident's case page shows the word the locksmith will say.
    phone.page.reload()
    assert word in phone.page.locator("[data-case-job]").inner_text()

    # The locksmith opens the job's link: the token leaves the address bar at once.
    smith_phone = visit()
    smith_phone.go("/job?t=" + token)
    page = smith_phone.page
    assert page.url == server.base + "/job"
    assert page.locator("[data-check-word]").inner_text() == word
    assert page.locator("[data-job-code]").count() == 0
    smith_phone.screenshot("locksmith-job")
    assert smith_phone.axe() == []

    # The word matched and the ID was checked: the one-time code, valid in the job's window.
    page.check("input[name=said]")
    page.fill("#document", "identity card")
    page.click("form[action='/job/code'] button[type=submit]")
    code = page.locator("[data-job-code]").inner_text().strip()
    assert re.fullmatch(r"\d{6,8}", code), code
    smith_phone.screenshot("locksmith-code")
    assert smith_phone.axe() == []
    # Once: the page no longer offers it, and a reload does not show it again.
    page.goto(server.base + "/job")
    assert page.locator("[data-job-code]").count() == 0
    assert page.locator("form[action='/job/code']").count() == 0

    ana_id = api.person(RESIDENT)["id"]
    on_lock(api, ana_id, "locksmith job", "set")
    server.sim("keypad", "--lock", ENTRY_LOCK, "--pin", code)
    marta = visit()
    marta.sign_in(MARTA)
    marta.page.locator("li.door", has_text="Unit 1A entry").locator(
        ".state[data-state=unlocked]"
    ).wait_for(timeout=10_000)


def test_a_job_link_that_is_not_a_job_gets_a_page_in_plain_words(visit):
    v = visit()
    v.go("/job?t=lkj_" + "0" * 64)
    assert v.page.url == v.server.base + "/job"
    assert v.page.locator("h1").inner_text() == "Not found"
    assert v.page.locator("[data-check-word]").count() == 0
