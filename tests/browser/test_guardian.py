"""A guardian's link opened on a phone that is not signed in: the link is kept, sign-in comes
first, and signing in (by password here; a passkey sign-in keeps it the same way) goes back to
the guardian page, where the guardian answers. Sign-in never sends the browser to another site,
whatever `next` it is given."""

import hashlib
import hmac
import json
import re
import sqlite3
import struct
import urllib.request
from pathlib import Path

from conftest import PASSWORD, RESIDENT
from test_lockout import ANA, MARTA, Api, start_case


def _rotl(v, c):
    return ((v << c) & 0xFFFFFFFF) | (v >> (32 - c))


def _rounds(state):
    x = list(state)
    for _ in range(10):
        for a, b, c, d in ((0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15),
                           (0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14)):
            x[a] = (x[a] + x[b]) & 0xFFFFFFFF; x[d] = _rotl(x[d] ^ x[a], 16)
            x[c] = (x[c] + x[d]) & 0xFFFFFFFF; x[b] = _rotl(x[b] ^ x[c], 12)
            x[a] = (x[a] + x[b]) & 0xFFFFFFFF; x[d] = _rotl(x[d] ^ x[a], 8)
            x[c] = (x[c] + x[d]) & 0xFFFFFFFF; x[b] = _rotl(x[b] ^ x[c], 7)
    return x


SIGMA = struct.unpack("<4I", b"expand 32-byte k")


def xchacha20_open(key, sealed):
    """Opens what latchkey seals (XChaCha20-Poly1305: 24-byte nonce, ciphertext, 16-byte tag)
    as far as the test needs it: the text. The tag is not checked: a wrong text fails the
    guardian page instead."""
    nonce, body = sealed[:24], sealed[24:-16]
    # HChaCha20: the subkey from the key and the nonce's first 16 bytes.
    state = list(SIGMA) + list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", nonce[:16]))
    x = _rounds(state)
    subkey = struct.pack("<8I", *(x[0:4] + x[12:16]))
    # ChaCha20 with the subkey, nonce = 4 zero bytes + the last 8, counter 1 for the text.
    n = struct.unpack("<3I", b"\0\0\0\0" + nonce[16:])
    out = bytearray()
    for block in range((len(body) + 63) // 64):
        state = list(SIGMA) + list(struct.unpack("<8I", subkey)) + [1 + block] + list(n)
        x = _rounds(state)
        stream = struct.pack("<16I", *((x[i] + state[i]) & 0xFFFFFFFF for i in range(16)))
        chunk = body[block * 64:(block + 1) * 64]
        out += bytes(a ^ b for a, b in zip(chunk, stream))
    return bytes(out)


def guardian_link(server, person_id):
    """The link the notification outbox holds for `person_id`, opened as their delivery would
    (with the master key; latchkey sends no e-mail in the demo)."""
    data = Path(server.dir) / "data"
    master = bytes.fromhex((data / "master.key").read_text().strip())
    seal = hmac.new(master, b"latchkey pin seal v1", hashlib.sha256).digest()
    db = sqlite3.connect(f"file:{data / 'latchkey.db'}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT body FROM notifications WHERE kind = 'lockout.guardian_request' "
            "AND person_id = ? ORDER BY id DESC",
            (person_id,),
        ).fetchall()
    finally:
        db.close()
    assert rows, f"no guardian request for person {person_id}"
    sealed = bytes.fromhex(json.loads(rows[0][0])["link_sealed_hex"])
    link = xchacha20_open(seal, sealed).decode()
    assert re.fullmatch(r"lkg_[0-9a-f]{64}", link), link
    return link


def ask_guardians(phone):
    """The case page's holder asks the household to confirm (the API call, with the case's
    token from the cookie the case page keeps)."""
    token = next(c["value"] for c in phone.context.cookies() if c["name"] == "latchkey_case")
    req = urllib.request.Request(
        phone.server.base + "/api/v1/lockouts/guardians",
        data=json.dumps({"token": token}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as res:
        assert res.status < 300


def test_a_guardian_signs_in_from_their_link_and_lands_back_on_the_guardian_page(visit, server):
    api = Api(server)
    phone = start_case(visit, "1A", ANA)
    ask_guardians(phone)
    link = guardian_link(server, api.person(MARTA)["id"])

    # Marta's phone is not signed in: the link is kept, then sign-in comes first.
    marta = visit()
    marta.go("/guardian?t=" + link)
    assert marta.page.url == server.base + "/sign-in?next=/guardian"
    assert link not in marta.page.url
    marta.page.fill("#email", MARTA)
    marta.page.fill("#password", PASSWORD)
    marta.page.click("form[action='/sign-in'] button[type=submit]")
    marta.page.wait_for_url(server.base + "/guardian")
    assert marta.page.locator("h1").inner_text() == "Is it really Ana?"
    marta.screenshot("guardian")
    assert marta.axe() == []

    marta.page.locator("form[action='/guardian'] button", has_text="Yes, it is them").click()
    assert "you confirmed it is them" in marta.page.locator("#guardian-done").inner_text()
    assert marta.page.locator("form[action='/guardian']").count() == 0
    marta.screenshot("guardian-answered")
    assert marta.axe() == []
    # Her answer is recorded as hers.
    confirmed = api.get("/api/v1/events?kind=lockout.guardian_confirmed")["events"]
    assert [e["actor_id"] for e in confirmed] == [api.person(MARTA)["id"]]


OFF_SITE = [
    "//evil.example",
    "https://evil.example/",
    "/\\evil.example",
    "/%2F%2Fevil.example",
    "%2F%2Fevil.example",
    "/%09/evil.example",
    "%2F%5Cevil.example",
    "javascript:alert(1)",
]


def test_sign_in_never_sends_the_browser_to_another_site(visit, server):
    for next_ in OFF_SITE:
        v = visit()
        v.go("/sign-in?next=" + next_)
        assert v.page.locator("input[name=next]").count() == 0, next_
        v.page.fill("#email", RESIDENT)
        v.page.fill("#password", PASSWORD)
        v.page.click("form[action='/sign-in'] button[type=submit]")
        v.page.wait_for_url(server.base + "/")
        assert "Signed in as" in v.page.locator("footer").inner_text()
        # Signed in, the same link still goes home (the fixture also checks that no request
        # ever left this site).
        v.go("/sign-in?next=" + next_)
        assert v.page.url == server.base + "/", next_
        v.close()
