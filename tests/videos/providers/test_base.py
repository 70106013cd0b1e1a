"""The shared HTTP behaviour, checked through every vendor adapter against its fake server."""

from __future__ import annotations

import email.utils
import io
import json
import time
from dataclasses import dataclass, replace

import pytest
import requests

from tests.fakevendors import FakeVendor, Reply, running
from tests.fakevendors.jobs import image, make_job
from tests.fakevendors.kling import FakeKling
from tests.fakevendors.luma import FakeLuma
from tests.fakevendors.minimax import FakeMiniMax
from tests.fakevendors.pika import FakeFal
from tests.fakevendors.runway import FakeRunway
from tests.fakevendors.sora import FakeSora
from tests.fakevendors.veo import FakeVeo
from tests.fakevendors.wan import FakeWan
from videos.catalog import CATALOG
from videos.providers import get_provider
from videos.providers.base import (
    InvalidJob,
    JobStatus,
    ProviderError,
    ProviderUnavailable,
    choose,
    dig,
)
from videos.providers.http import HttpProvider, retry_after


@dataclass
class Vendor:
    fake: type[FakeVendor]
    model_id: str
    config: dict[str, str]

    def __str__(self) -> str:
        return self.fake.name


VENDORS = [
    Vendor(FakeMiniMax, "minimax-hailuo-02-6s-768p-t2v", {}),
    Vendor(FakeLuma, "luma-ray-2.0", {}),
    Vendor(FakeRunway, "runway-gen-4-turbo", {}),
    Vendor(FakeKling, "kling-v1-6-std-5s-720p-t2v", {"secret_key": FakeKling.secret_key}),
    Vendor(FakeVeo, "veo-3.1-8s-1080p-t2v", {}),
    Vendor(FakeSora, "sora-2-4s-720p-t2v", {}),
    Vendor(FakeWan, "wan-v2-5-preview", {}),
    Vendor(FakeFal, "pika-v2.2-5s-720p-t2v", {}),
]
VENDOR_NAMES = {v.fake.name for v in VENDORS}


@pytest.fixture(params=VENDORS, ids=str)
def vendor(request, settings):
    spec: Vendor = request.param
    for fake in running(spec.fake, settings, **spec.config):
        provider = get_provider(spec.fake.name)
        yield spec, fake, provider, make_job(spec.model_id)


def test_every_vendor_completes_a_job_and_stores_the_file(vendor):
    _, fake, provider, job = vendor
    fake.script = ["queued", "running:50", "succeeded"]
    assert provider.is_configured() and isinstance(provider, HttpProvider)
    assert provider.base_url == fake.base_url and provider.poll_interval >= 5
    task_id = provider.submit(job)
    statuses = [provider.poll(task_id, job) for _ in range(3)]
    assert statuses[-1].state == "completed" and statuses[-1].result_url
    assert statuses[0].state in ("pending", "processing")  # Veo operations have no queued state
    buffer = io.BytesIO()
    provider.download(statuses[-1], job, buffer)
    assert buffer.getvalue().startswith(b"\x00\x00\x00\x18ftyp")
    assert len(fake.posted()) == 1  # submitted once, whatever the number of polls


@pytest.mark.parametrize("when", ["submit", "poll"])
def test_a_429_is_retryable_with_the_vendors_retry_after(vendor, when):
    _, fake, provider, job = vendor
    task_id = provider.submit(job) if when == "poll" else None
    fake.reply(429, {"error": "Too many requests", "message": "Too many requests"}, headers={"Retry-After": "17"})
    with pytest.raises(ProviderUnavailable) as e:
        provider.poll(task_id, job) if task_id else provider.submit(job)
    assert e.value.retry_after == 17 and e.value.code == "vendor_unavailable"


def test_a_500_is_retryable(vendor):
    _, fake, provider, job = vendor
    fake.reply(500, "<html>Internal Server Error</html>")
    with pytest.raises(ProviderUnavailable) as e:
        provider.submit(job)
    assert e.value.retry_after is None and "HTTP 500" in e.value.message


def test_a_slow_vendor_times_out_as_retryable(vendor):
    _, fake, provider, job = vendor
    provider.timeout = (1.0, 0.2)
    fake.reply(200, {"never": "read"}, delay=1.0)
    with pytest.raises(ProviderUnavailable) as e:
        provider.submit(job)
    assert "Timeout" in e.value.message and e.value.maybe_submitted


@pytest.mark.parametrize("body", ["<html>502 Bad Gateway</html>", {"unexpected": "shape"}, []])
def test_a_malformed_body_is_retryable_not_a_crash(vendor, body):
    _, fake, provider, job = vendor
    task_id = provider.submit(job)
    fake.reply(200, body)
    with pytest.raises(ProviderUnavailable) as e:
        provider.poll(task_id, job)
    assert "malformed" in e.value.message


def test_an_expired_result_url_fails_permanently(vendor):
    _, fake, provider, job = vendor
    fake.script = ["succeeded"]
    status = provider.poll(provider.submit(job), job)
    fake.expire_results = True
    with pytest.raises(ProviderError) as e:
        provider.download(status, job, io.BytesIO())
    assert type(e.value) is ProviderError and e.value.code == "result_expired"


def test_a_401_that_echoes_the_credentials_comes_out_scrubbed(vendor):
    spec, fake, provider, job = vendor
    secrets = [fake.api_key, *spec.config.values()]

    def echo(request):
        text = f"invalid credentials {' '.join(secrets)} (sent {request.headers.get('authorization')})"
        return {"message": text, "detail": text, "error": {"message": text}, "code": "InvalidApiKey",
                "base_resp": {"status_code": 1004, "status_msg": text}}

    fake.reply(401, echo)
    with pytest.raises(ProviderError) as e:
        provider.submit(job)
    assert type(e.value) is ProviderError and "invalid credentials" in e.value.message
    shown = f"{e.value} {e.value.message} {e.value!r}"
    assert "[redacted]" in shown
    assert not any(secret in shown for secret in secrets)
    if spec.fake is FakeKling:  # the signed JWT is a credential too
        token = fake.requests[-1].headers["authorization"].removeprefix("Bearer ")
        assert token not in shown


@pytest.mark.parametrize("padding", [190, 290, 470, 490, 5000])
def test_a_key_at_the_truncation_point_is_scrubbed_before_the_cut(vendor, padding):
    """Messages are shortened to 500 characters (and used to be cut at 200/300 before scrubbing): a key
    straddling the cut must not leave a recognisable piece behind."""
    spec, fake, provider, job = vendor
    secrets = [fake.api_key, *spec.config.values()]
    text = "x" * padding + " " + " ".join(secrets) + " tail"
    fake.reply(400, {"message": text, "detail": text, "error": {"message": text}, "code": "InvalidParameter",
                     "base_resp": {"status_code": 2013, "status_msg": text}})
    with pytest.raises(ProviderError) as e:
        provider.submit(job)
    shown = f"{e.value} {e.value.message} {e.value!r}"
    assert len(e.value.message) <= 500
    for secret in secrets:
        pieces = {secret[i:i + 8] for i in range(len(secret) - 7)}
        assert not any(piece in shown for piece in pieces), (secret, shown[-120:])


def test_the_vendor_key_never_follows_a_redirect_to_another_host(settings):
    for veo in running(FakeVeo, settings):
        cdn = FakeVeo().start()  # another origin: same code, other port
        try:
            provider = get_provider("veo")
            job = make_job("veo-3.1-8s-1080p-t2v")
            veo.reply(302, "", headers={"Location": f"{cdn.url}/cdn/veo-task-1.mp4"})
            status = JobStatus(state="completed", result_url=f"{veo.base_url}/files/f1:download?alt=media")
            buffer = io.BytesIO()
            provider.download(status, job, buffer)
            assert veo.requests[-1].headers["x-goog-api-key"] == veo.api_key  # the vendor host got the key
            assert "x-goog-api-key" not in cdn.requests[-1].headers  # the CDN did not
            assert cdn.problems == [] and buffer.getvalue()
        finally:
            cdn.stop()


def test_a_connection_refused_is_retryable(settings):
    for _fake in running(FakeLuma, settings):
        provider = get_provider("luma")
    with pytest.raises(ProviderUnavailable):  # the fake has stopped: nothing listens there now
        provider.submit(make_job("luma-ray-2.0"))


@pytest.mark.parametrize("name", ["minimax", "luma", "runway", "kling", "veo", "sora", "wan", "pika"])
def test_a_vendor_without_credentials_is_not_configured(settings, name):
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS, name: {"api_key": "", "base_url": ""}}
    provider = get_provider(name)
    assert not provider.is_configured()
    assert provider.base_url == type(provider).default_base_url.rstrip("/")


def test_retry_after_reads_seconds_and_http_dates():
    def response(value):
        r = requests.Response()
        r.headers["Retry-After"] = value
        return r

    assert retry_after(response("12")) == 12
    assert 25 < retry_after(response(email.utils.formatdate(time.time() + 30, usegmt=True))) <= 30
    assert retry_after(response("soon")) is None


def test_choose_translates_or_refuses_naming_our_field():
    assert choose("16:9", {"16:9": "1280:720"}, field="aspect_ratio", what="X") == "1280:720"
    with pytest.raises(InvalidJob) as e:
        choose("2:1", ("16:9",), field="aspect_ratio", what="X")
    assert e.value.field == "aspect_ratio" and "2:1" in e.value.message


def test_dig_calls_a_missing_field_malformed():
    assert dig({"a": [{"b": 1}]}, "a", 0, "b") == 1
    with pytest.raises(ProviderUnavailable):
        dig({"a": []}, "a", 0, "b", vendor="x")


def test_fake_replies_echo_json():
    assert json.loads(json.dumps(Reply(200, {"a": 1}).body)) == {"a": 1}


@pytest.mark.parametrize("entry", [e for e in CATALOG if e["provider"] in VENDOR_NAMES], ids=lambda e: e["model_id"])
def test_every_catalog_model_passes_its_adapters_check_at_its_defaults(settings, entry):
    """The catalog and the adapters agree: what the catalog offers, the vendor can do. Images carry no URL
    yet, as on the request path (the service stores them only after the checks)."""
    provider = get_provider(entry["provider"])
    unstored = replace(image(), url="")
    for head, tail in [(None, None), (unstored, None), (unstored, unstored)]:
        if (head is None and entry["head_image"] == "required") or (head and entry["head_image"] == "none"):
            continue
        if (tail is None and entry["tail_image"] == "required") or (tail and entry["tail_image"] == "none"):
            continue
        for duration in entry["durations"]:
            for ratio in entry["aspect_ratios"] if head is None else [entry["default_aspect_ratio"]]:
                job = make_job(entry["model_id"], duration=duration, aspect_ratio=ratio, head_image=head,
                               tail_image=tail)
                provider.check(job)
        for resolution in entry["resolutions"]:
            provider.check(make_job(entry["model_id"], resolution=resolution, head_image=head, tail_image=tail))
