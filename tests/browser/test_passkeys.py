"""Invitation, passkeys and the fresh proof before an unlock, in real headless Chromium with the
DevTools WebAuthn domain's virtual authenticator (a platform authenticator with resident keys
and user verification, as a phone has)."""

import json
import re
import subprocess
from urllib.parse import parse_qsl, urlencode

from conftest import PASSWORD, binary

NEW_PASSWORD = "nadia-first-password-1"


def cli(server, *args):
    """A terminal command against the running server's data directory."""
    out = subprocess.run(
        [binary(), "--data-dir", server.dir + "/data", *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.stdout


def invite_resident(server):
    """`person add` from the terminal prints the invitation link once; the person gets a phone
    key for their unit (so the unit's door opens for them remotely)."""
    out = cli(
        server, "person", "add", "--property", "1", "--name", "Nadia Novak",
        "--email", "nadia.1a@linden-court.example", "--role", "resident", "--unit", "1",
    )
    person = re.search(r"added person (\d+)", out).group(1)
    token = re.search(r"/welcome\?t=(lki_[0-9a-f]{64})", out).group(1)
    cli(server, "credential", "add", "--property", "1", "--person", person,
        "--kind", "phone_key", "--unit", "1")
    return token, person


def virtual_authenticator(v):
    cdp = v.context.new_cdp_session(v.page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }})
    return cdp, added["authenticatorId"]


def door(page):
    return page.locator("li.door", has_text="Unit 1A entry")


def test_an_invited_resident_signs_in_with_a_passkey_and_unlocks_with_a_fresh_assertion(visit):
    v = visit()
    token, _ = invite_resident(v.server)
    page = v.page
    cdp, authenticator = virtual_authenticator(v)

    # The link: the token leaves the address bar; a password is chosen; signed in.
    v.go("/welcome?t=" + token)
    assert page.url == v.server.base + "/welcome"
    assert page.locator("h1").inner_text() == "Welcome, Nadia Novak"
    v.screenshot("welcome")
    page.fill("#password", NEW_PASSWORD)
    page.click("form[action='/welcome'] button[type=submit]")
    page.wait_for_url(v.server.base + "/security?welcome=1")
    assert page.locator("#welcome-notice").is_visible()

    # A second use of the same link changes nothing and says why.
    other = visit()
    other.go("/welcome?t=" + token)
    assert "already been used" in other.page.locator("#welcome-error").inner_text()
    assert other.page.locator("form[action='/welcome']").count() == 0

    # A passkey, named, registered with the virtual authenticator as a resident key.
    page.fill("#passkey-name", "Nadia's phone")
    page.click("form[data-passkey-register] button[type=submit]")
    page.wait_for_url(v.server.base + "/security?added=1")
    assert page.locator("li.passkey h3").all_inner_texts() == ["Nadia's phone"]
    creds = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert len(creds) == 1 and creds[0]["isResidentCredential"] is True
    v.screenshot("security-passkey")

    # Renamed, then signed out, then back in with the passkey alone (no e-mail typed).
    page.fill("li.passkey input[name=name]", "Phone")
    page.click("li.passkey form[action$='/rename'] button")
    assert page.locator("li.passkey h3").all_inner_texts() == ["Phone"]
    # By autofill: the sign-in page's e-mail field offers the passkey (conditional mediation),
    # and the virtual authenticator, like a person, picks it at once.
    page.click("form[action='/sign-out'] button")
    page.wait_for_url(v.server.base + "/")
    assert "Signed in as Nadia Novak" in page.locator("footer").inner_text()

    # By the button, in a browser that offers no autofill.
    page.add_init_script("delete PublicKeyCredential.isConditionalMediationAvailable")
    page.click("form[action='/sign-out'] button")
    page.wait_for_url(v.server.base + "/sign-in")
    assert page.locator("#email").get_attribute("autocomplete") == "username webauthn"
    v.screenshot("sign-in-passkey")
    page.click("#passkey-sign-in")
    page.wait_for_url(v.server.base + "/")
    assert "Signed in as Nadia Novak" in page.locator("footer").inner_text()
    assert door(page).locator(".state").inner_text() == "Locked"

    # A missing assertion: the unlock is refused and nothing reaches the lock.
    refused = page.evaluate(
        """async () => {
            const form = document.querySelector("li.door form[data-proof=passkey]");
            const res = await fetch(form.getAttribute("action"), {method: "POST",
                headers: {"HX-Request": "true"},
                body: new URLSearchParams({csrf: form.elements.csrf.value})});
            return await res.text();
        }"""
    )
    assert re.search(r'data-command="failed">Confirm it is you first', refused), refused

    # A wrong assertion (its signature altered on the way): refused, nothing sent.
    def tamper(route):
        fields = dict(parse_qsl(route.request.post_data))
        credential = json.loads(fields["credential"])
        sig = credential["response"]["signature"]
        credential["response"]["signature"] = sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")
        fields["credential"] = json.dumps(credential)
        route.continue_(post_data=urlencode(fields))

    page.route(re.compile(r".*/doors/\d+/unlock$"), tamper)
    door(page).locator("button.big", has_text="Unlock").click()
    failed = door(page).locator("[data-command=failed]")
    failed.wait_for(timeout=15_000)
    assert "passkey check failed" in failed.inner_text()
    assert door(page).locator("[data-command=confirmed]").count() == 0
    page.unroute(re.compile(r".*/doors/\d+/unlock$"))
    page.reload()
    assert door(page).locator(".state").inner_text() == "Locked"

    # The fresh assertion: the unlock goes through and the virtual lock confirms it.
    door(page).locator("button.big", has_text="Unlock").click()
    confirmed = door(page).locator("[data-command=confirmed]")
    confirmed.wait_for(timeout=15_000)
    assert re.match(r"Unlocked, confirmed by the lock at \d\d:\d\d:\d\d\.", confirmed.inner_text())
    assert door(page).locator(".state").inner_text() == "Unlocked"
    v.screenshot("home-unlocked-with-passkey")


def test_a_bad_or_withdrawn_invitation_link_gets_a_page_that_says_so(visit):
    v = visit()
    token, person = invite_resident(v.server)
    v.go("/welcome?t=lki_" + "0" * 64)
    assert "not a valid invitation link" in v.page.locator("#welcome-error").inner_text()
    cli(v.server, "person", "uninvite", "--person", person)
    v.go("/welcome?t=" + token)
    assert "withdrawn or replaced" in v.page.locator("#welcome-error").inner_text()
    assert v.page.locator("form[action='/welcome']").count() == 0
    v.screenshot("welcome-withdrawn")
