"""The security page's list of sessions: a person signed in on a borrowed computer signs it out
from their phone, and that computer can no longer do anything."""

from conftest import RESIDENT


def test_a_session_left_on_a_borrowed_computer_is_signed_out_from_the_phone(visit):
    computer = visit()
    computer.sign_in(RESIDENT)
    assert computer.page.url == computer.server.base + "/"
    phone = visit()
    phone.sign_in(RESIDENT)
    phone.go("/security")
    sessions = phone.page.locator("li.session")
    assert sessions.count() == 2
    assert phone.page.locator("li.session[data-this-session]").count() == 1
    assert "This browser" in sessions.first.inner_text()
    phone.screenshot("security-sessions")

    other = phone.page.locator("li.session:not([data-this-session])")
    other.locator("button", has_text="Sign it out").click()
    assert "That session is signed out" in phone.page.locator("#security-notice").inner_text()
    assert phone.page.locator("li.session").count() == 1

    # The computer's next page asks it to sign in; the phone stays signed in.
    computer.go("/")
    assert computer.page.url == computer.server.base + "/sign-in"
    phone.go("/")
    assert phone.page.url == phone.server.base + "/"

    # Signing out this browser from the list ends it too.
    phone.go("/security")
    phone.page.locator("li.session[data-this-session] button").click()
    phone.page.wait_for_url(phone.server.base + "/sign-in")
    phone.go("/security")
    assert phone.page.url == phone.server.base + "/sign-in"
