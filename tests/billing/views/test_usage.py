"""The usage page (per day, model, API key; vendors) and the ledger as CSV. Strangers' rows never show."""

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from billing import services as billing
from billing.usage import usage_for_user
from tests.conftest import ApiClient
from tests.factories import make_key, make_session
from videos import services
from videos.models import Video

pytestmark = pytest.mark.django_db


def _complete(video, seconds):
    Video.objects.filter(pk=video.pk).update(status=Video.Status.COMPLETED, processing_time=seconds)


def test_usage_adds_up_per_day_model_key_and_vendor(alice, bob):
    a = make_session(owner=alice, model="luma-ray-2.0-flash", duration=9).videos.get()  # 36, dashboard
    _complete(a, 10.0)
    key, raw = make_key(alice, name="laptop")
    r = ApiClient(raw).post("/videos/generate", {"model": "wan-v2-5-preview", "prompt": "A kite"})  # 60, key
    assert r.status_code == 201
    b = Video.objects.get(public_id=r.json()["video_id"])
    services.video_fail(b.pk, error="The vendor refused.", code="vendor_error")  # refunded: 0 net
    c = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v").videos.get()  # 20, then cancelled
    services.video_fail(c.pk, error="Cancelled by you.", code="cancelled")
    d = make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v").videos.get()  # 20
    _complete(d, 30.0)
    make_session(owner=bob, model="wan-v2-5-preview")  # someone else's

    usage = usage_for_user(user=alice, days=7)
    assert usage["charged"] == 136.0 and usage["refunded"] == 80.0 and usage["spent"] == 56.0
    assert sum(d["credits"] for d in usage["per_day"]) == 56.0 and len(usage["per_day"]) == 7
    assert usage["per_day"][-1]["credits"] == 56.0  # all today
    assert usage["by_model"] == [{"label": "luma-ray-2.0-flash", "credits": 36.0},
                                 {"label": "luma-ray-2.0-flash-5s-t2v", "credits": 20.0}]
    assert usage["by_key"] == [{"label": "Dashboard", "credits": 56.0}]  # the key's only video was refunded
    vendor = {v["vendor"]: v for v in usage["by_vendor"]}
    assert vendor["local"]["completed"] == 2 and vendor["local"]["failed"] == 1  # wan is simulated: local
    assert vendor["local"]["success_rate"] == 66.7 and vendor["local"]["median_seconds"] == 20.0
    assert key.sessions.count() == 1  # the API recorded the key on its session


def test_spending_through_a_key_is_counted_for_that_key(alice):
    key, raw = make_key(alice, name="ci")
    assert ApiClient(raw).post("/videos/generate", {"model": "luma-ray-2.0-flash-5s-t2v", "prompt": "x"}).status_code == 201
    usage = usage_for_user(user=alice, days=30)
    assert usage["by_key"] == [{"label": f"{key.prefix}… (ci)", "credits": 20.0}]


def test_the_page_renders_the_charts_data(client, alice, bob):
    make_session(owner=alice, model="luma-ray-2.0-flash", duration=9)
    make_session(owner=bob, model="wan-v2-5-preview", prompt="bob's secret")
    client.force_login(alice)
    r = client.get(reverse("billing:usage"), {"days": "7"})
    body = r.content.decode()
    assert r.status_code == 200 and 'id="usage-data"' in body and 'id="chart-daily"' in body
    assert "luma-ray-2.0-flash" in body and "wan-v2-5-preview" not in body
    assert "vendor/chartjs/chart.umd.min.js" in body and 'aria-current="page">7 days' in body


def test_a_bad_period_falls_back_to_30_days(client, alice):
    client.force_login(alice)
    assert 'aria-current="page">30 days' in client.get(reverse("billing:usage"), {"days": "9999"}).content.decode()


def test_the_ledger_downloads_as_csv(client, alice, bob):
    video = make_session(owner=alice).videos.get()
    services.video_fail(video.pk, error="x", code="vendor_error")
    billing.credits_grant(user=alice, amount=Decimal(5), key="g2", note="=HYPERLINK(\"http://evil\")")
    make_session(owner=bob)
    client.force_login(alice)
    r = client.get(reverse("billing:ledger-csv"))
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    assert "attachment" in r["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(r.streaming_content).decode())))
    assert [row["kind"] for row in rows] == ["grant", "charge", "refund", "grant"]
    assert [row["amount"] for row in rows] == ["1000.00", "-20.00", "20.00", "5.00"]
    assert rows[1]["video_id"] == video.public_id and rows[-1]["balance_after"] == "1005.00"
    assert rows[-1]["note"].startswith("'=")  # not a formula in a spreadsheet


@pytest.mark.parametrize("name", ["billing:usage", "billing:ledger-csv"])
def test_they_need_sign_in(client, name):
    r = client.get(reverse(name))
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]
