"""Notifications on this device (Web Push) in real Chromium. Headless Chromium cannot reach a
real push service here, so nothing pretends a subscription succeeded: what is tested is what is
real — the page and its button, the service worker registered at the site's root, a refused
permission said in words, a browser that refuses to subscribe said in words with nothing recorded,
and the API path the page posts a subscription to (with a subscription object built in the
page, as the browser's `toJSON()` gives it), then turning that device off."""

import pytest

from conftest import RESIDENT

SUBJECT = "mailto:ops@linden-court.example"

# A browser's subscription as `PushSubscription.toJSON()` gives it; the keys are RFC 8291's
# example (a point on P-256 and 16 bytes).
SUBSCRIPTION = {
    "endpoint": "https://push.example.net/send/ana-phone",
    "expirationTime": None,
    "keys": {
        "p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
        "auth": "BTBZMqHH6r4Tts7J_aSIgg",
    },
    "name": "Phone of Ana",
}

LIST = "async () => (await fetch('/api/v1/me/push-subscriptions')).json()"


@pytest.fixture(autouse=True)
def push_on(monkeypatch):
    """The server started by the `server` fixture has a push subject, so push is offered."""
    monkeypatch.setenv("LATCHKEY_PUSH_SUBJECT", SUBJECT)


def open_page(v, server):
    v.sign_in(RESIDENT)
    v.go("/security")
    v.page.click("#notifications-link a")
    v.page.wait_for_url(server.base + "/notifications")
    return v.page


def test_the_page_offers_notifications_and_registers_the_service_worker_at_the_root(visit, server):
    v = visit()
    page = open_page(v, server)
    button = page.get_by_role("button", name="Turn on notifications on this device")
    assert button.is_visible() and button.is_enabled()
    key = page.get_attribute("[data-push]", "data-vapid-key")
    assert key.startswith("B") and len(key) == 87, "an uncompressed P-256 point, base64url"
    page.wait_for_selector("[data-push][data-push-worker=registered]")
    scope = page.evaluate("async () => (await navigator.serviceWorker.getRegistration('/')).scope")
    assert scope == server.base + "/"
    assert page.locator("#no-devices").is_visible()
    v.screenshot("notifications")
    assert v.axe() == []


def test_a_refused_permission_is_said_in_words_and_records_nothing(visit, server):
    v = visit()
    page = open_page(v, server)
    page.wait_for_selector("[data-push][data-push-worker=registered]")
    # Headless Chromium shows no prompt: a request it cannot ask is refused, as a person's "Block".
    page.click("[data-push-enable]")
    status = page.locator("[data-push-status]")
    status.filter(has_text="not allowed").wait_for()
    assert "browser's settings" in status.inner_text()
    assert page.locator("[data-push-enable]").is_enabled(), "the person may try again"
    assert page.evaluate(LIST) == []
    v.screenshot("notifications-denied")
    assert v.axe() == []


def test_a_browser_that_cannot_subscribe_says_so_and_records_nothing(visit, server):
    # Permission is granted, so the page gets as far as `pushManager.subscribe`, which headless
    # Chromium refuses ("Registration failed"): the page must say so and post nothing.
    v = visit()
    v.context.grant_permissions(["notifications"], origin=server.base)
    page = open_page(v, server)
    page.wait_for_selector("[data-push][data-push-worker=registered]")
    page.click("[data-push-enable]")
    status = page.locator("[data-push-status]")
    status.filter(has_text="could not subscribe").wait_for(timeout=60_000)
    assert "applicationServerKey" not in status.inner_text(), "the page's key was accepted"
    assert page.locator("[data-push-enable]").is_enabled()
    assert page.evaluate(LIST) == []


def test_the_subscription_the_page_posts_lists_the_device_which_can_be_turned_off(visit, server):
    v = visit()
    page = open_page(v, server)
    answer = page.evaluate(
        """async (subscription) => {
             const r = await fetch('/api/v1/me/push-subscriptions', {
               method: 'POST', credentials: 'same-origin',
               headers: {'Content-Type': 'application/json'},
               body: JSON.stringify(subscription)});
             return {status: r.status, body: await r.json()};
           }""",
        SUBSCRIPTION,
    )
    assert answer["status"] == 201, answer
    assert answer["body"]["push_service"] == "https://push.example.net"
    assert "endpoint" not in answer["body"]
    page.reload()
    device = page.locator(f"#device-{answer['body']['id']}")
    assert "Phone of Ana" in device.inner_text()
    v.screenshot("notifications-device")
    assert v.axe() == []
    device.get_by_role("button", name="Turn off for Phone of Ana").click()
    page.locator("#notifications-notice").wait_for()
    assert "Notifications are off for Phone of Ana." in page.locator("#notifications-notice").inner_text()
    assert page.evaluate(LIST) == []
