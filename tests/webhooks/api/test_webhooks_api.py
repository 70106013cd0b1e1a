"""/api/v3/webhooks: CRUD under X-API-Key, the secret shown once, the default secret, per-request callback_url."""

from __future__ import annotations

import pytest
from standardwebhooks.webhooks import Webhook

from billing.services import credit_balance
from tests.factories import make_session
from videos import services as video_services
from videos.models import GenerationSession
from webhooks import services
from webhooks.models import EVENTS, Callback, Delivery, Endpoint

pytestmark = pytest.mark.django_db


def test_register_an_endpoint_and_see_its_secret_only_once(alice_api, receiver):
    r = alice_api.post("/webhooks", {"url": receiver.url, "events": ["video.completed", "session.completed"],
                                     "description": "prod"})
    assert r.status_code == 201
    body = r.json()
    endpoint = Endpoint.objects.get(public_id=body["id"])
    assert body["secret"] == endpoint.secret and body["secret"].startswith("whsec_")
    assert body["events"] == ["video.completed", "session.completed"] and body["enabled"] is True
    listed = alice_api.get("/webhooks").json()["endpoints"]
    detail = alice_api.get(f"/webhooks/{body['id']}").json()
    assert [e["id"] for e in listed] == [body["id"]]
    assert "secret" not in listed[0] and "secret" not in detail
    assert endpoint.secret not in alice_api.get("/webhooks").content.decode()


def test_events_default_to_all_and_unknown_ones_are_refused(alice_api, receiver):
    assert alice_api.post("/webhooks", {"url": receiver.url}).json()["events"] == list(EVENTS)
    r = alice_api.post("/webhooks", {"url": receiver.url, "events": ["video.exploded"]})
    assert r.status_code == 400 and r.json()["error"]["field"] == "events"
    assert Endpoint.objects.count() == 1


@pytest.mark.parametrize("url", ["ftp://example.com/x", "http://10.0.0.7/hook", "http://169.254.169.254/latest",
                                 "http://[::1]:8000/x", "http://0x7f000001/x", "http://localhost/x",
                                 "https://user:pw@example.com/x", "not a url"])
def test_unsafe_or_invalid_urls_are_refused_naming_the_field(alice_api, settings, url):
    settings.IMAGE_FETCH_ALLOW_HOSTS = []
    r = alice_api.post("/webhooks", {"url": url})
    assert r.status_code == 400, r.content
    assert r.json()["error"]["field"] == "url" and not Endpoint.objects.exists()


def test_disable_enable_edit_and_delete(alice_api, receiver):
    wid = alice_api.post("/webhooks", {"url": receiver.url}).json()["id"]
    r = alice_api.client.patch(f"/api/v3/webhooks/{wid}", {"enabled": False, "events": ["video.failed"]},
                               content_type="application/json", headers=alice_api._headers())
    assert r.status_code == 200 and r.json()["enabled"] is False and r.json()["events"] == ["video.failed"]
    assert r.json()["disabled_reason"] == "Disabled by you."
    r = alice_api.client.patch(f"/api/v3/webhooks/{wid}", {"enabled": True}, content_type="application/json",
                               headers=alice_api._headers())
    assert r.json()["enabled"] is True and r.json()["disabled_reason"] is None
    assert alice_api.delete(f"/webhooks/{wid}").status_code == 204
    assert not Endpoint.objects.exists()


def test_another_account_sees_nothing_of_yours(alice_api, bob_api, receiver, enqueued,
                                               django_capture_on_commit_callbacks):
    wid = alice_api.post("/webhooks", {"url": receiver.url}).json()["id"]
    assert bob_api.get("/webhooks").json()["endpoints"] == []
    assert bob_api.get(f"/webhooks/{wid}").status_code == 404
    assert bob_api.get(f"/webhooks/{wid}/deliveries").status_code == 404
    r = bob_api.client.patch(f"/api/v3/webhooks/{wid}", {"enabled": False}, content_type="application/json",
                             headers=bob_api._headers())
    assert r.status_code == 404
    assert bob_api.delete(f"/webhooks/{wid}").status_code == 404
    assert Endpoint.objects.get(public_id=wid).enabled
    assert bob_api.get("/webhooks/secret").json()["secret"] != alice_api.get("/webhooks/secret").json()["secret"]


def test_the_default_secret_is_stable_and_signs_callback_deliveries(alice, alice_api, receiver, enqueued,
                                                                   django_capture_on_commit_callbacks):
    secret = alice_api.get("/webhooks/secret").json()["secret"]
    assert secret.startswith("whsec_") and alice_api.get("/webhooks/secret").json() == {"secret": secret}
    r = alice_api.post("/videos/generate", {"prompt": "A lighthouse at dusk", "model": "luma-ray-2.0-flash-5s-t2v",
                                            "callback_url": receiver.url + "?job=42"})
    assert r.status_code == 201, r.content
    session = GenerationSession.objects.get(public_id=r.json()["session_id"])
    assert Callback.objects.get(session=session).url == receiver.url + "?job=42"
    with django_capture_on_commit_callbacks(execute=True):
        video_services.video_fail(session.videos.get().pk, error="boom")
    deliveries = Delivery.objects.filter(endpoint=None).order_by("id")
    assert [d.message.event for d in deliveries] == ["video.failed", "session.error"]
    for delivery in deliveries:
        services.delivery_attempt(delivery.pk)
    assert [r.path for r in receiver.requests] == ["/hooks?job=42"] * 2
    for request in receiver.requests:
        body = Webhook(secret).verify(request.body, request.headers)
        assert body["data"]["session_id"] == session.public_id


def test_a_bad_callback_url_is_a_400_and_nothing_is_charged(alice, alice_api, settings):
    settings.IMAGE_FETCH_ALLOW_HOSTS = []
    before = credit_balance(user=alice)
    r = alice_api.post("/videos/generate", {"prompt": "A lighthouse", "model": "luma-ray-2.0-flash-5s-t2v",
                                            "callback_url": "http://192.168.1.1/hook"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "callback_url"
    assert credit_balance(user=alice) == before and not GenerationSession.objects.exists()


def test_the_delivery_log_and_redeliver_through_the_api(alice_api, bob_api, receiver, enqueued,
                                                        django_capture_on_commit_callbacks, alice):
    wid = alice_api.post("/webhooks", {"url": receiver.url, "events": ["video.failed"]}).json()["id"]
    session = make_session(owner=alice)
    receiver.reply(500, b"oops")
    with django_capture_on_commit_callbacks(execute=True):
        video_services.video_fail(session.videos.get().pk, error="boom")
    delivery = Delivery.objects.get()
    services.delivery_attempt(delivery.pk)
    log = alice_api.get(f"/webhooks/{wid}/deliveries").json()["deliveries"]
    assert log[0]["id"] == delivery.public_id and log[0]["status"] == "pending"
    assert log[0]["attempts"][0]["status_code"] == 500 and log[0]["attempts"][0]["response_excerpt"] == "oops"
    assert bob_api.post(f"/webhooks/{wid}/deliveries/{delivery.public_id}/redeliver").status_code == 404
    r = alice_api.post(f"/webhooks/{wid}/deliveries/{delivery.public_id}/redeliver")
    assert r.status_code == 200 and r.json()["success"] is True and r.json()["attempt"]["status_code"] == 200
    assert len(receiver.requests) == 2


def test_an_account_has_at_most_20_endpoints(alice_api, receiver):
    for i in range(20):
        assert alice_api.post("/webhooks", {"url": f"{receiver.url}/{i}"}).status_code == 201
    r = alice_api.post("/webhooks", {"url": receiver.url})
    assert r.status_code == 400 and r.json()["error"]["code"] == "too_many_endpoints"
    assert Endpoint.objects.count() == 20
