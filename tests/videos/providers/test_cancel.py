"""Provider.cancel: the vendor's own cancel call where its protocol has one, False (nothing sent) elsewhere."""

from __future__ import annotations

import pytest

from tests.fakevendors import running
from tests.fakevendors.jobs import make_job
from tests.fakevendors.kling import FakeKling
from tests.fakevendors.luma import FakeLuma
from tests.fakevendors.minimax import FakeMiniMax
from tests.fakevendors.pika import FakeFal
from tests.fakevendors.runway import FakeRunway
from tests.fakevendors.sora import FakeSora
from tests.fakevendors.veo import FakeVeo
from tests.fakevendors.wan import FakeWan
from videos.providers import get_provider
from videos.providers.base import Provider, ProviderUnavailable

CANCELLABLE = [  # fake, model, the cancel request the vendor's SDK sends
    (FakeRunway, "runway-gen-4-turbo", ("DELETE", "/v1/tasks/runway-task-1")),
    (FakeLuma, "luma-ray-2.0", ("DELETE", "/dream-machine/v1/generations/luma-task-1")),
    (FakeFal, "pika-v2.2-5s-720p-t2v", ("PUT", "/fal-ai/pika/requests/pika-task-1/cancel")),
    (FakeWan, "wan-v2-5-preview", ("POST", "/api/v1/tasks/wan-task-1/cancel")),
]
NOT_CANCELLABLE = [(FakeMiniMax, "minimax-hailuo-02-6s-768p-t2v", {}), (FakeVeo, "veo-3.1-8s-1080p-t2v", {}),
                   (FakeSora, "sora-2-4s-720p-t2v", {}),
                   (FakeKling, "kling-v1-6-std-5s-720p-t2v", {"secret_key": FakeKling.secret_key})]


@pytest.mark.parametrize(("fake_cls", "model_id", "call"), CANCELLABLE, ids=lambda v: getattr(v, "name", None))
def test_a_queued_task_is_cancelled_at_the_vendor_and_then_polls_as_failed(settings, fake_cls, model_id, call):
    for fake in running(fake_cls, settings):
        fake.script = ["queued", "queued", "running", "succeeded"]
        provider, job = get_provider(fake_cls.name), make_job(model_id)
        task_id = provider.submit(job)
        assert provider.poll(task_id, job).state == "pending"
        assert provider.cancel(task_id, job) is True
        assert (fake.requests[-1].method, fake.requests[-1].path) == call
        assert fake.requests[-1].headers == {**fake.requests[-1].headers, **{
            k.lower(): v for k, v in provider.headers().items()}}  # with the vendor's auth
        assert fake.cancelled == list(fake.tasks)  # the one task, cancelled at the vendor
        assert fake.in_flight == 0  # the vendor slot is free again
        status = provider.poll(task_id, job)
        assert status.state == "failed" and not status.result_url


@pytest.mark.parametrize(("fake_cls", "model_id"), [(f, m) for f, m, _ in CANCELLABLE if f is not FakeRunway],
                         ids=lambda v: getattr(v, "name", None))
def test_cancelling_a_finished_task_answers_false(settings, fake_cls, model_id):
    for fake in running(fake_cls, settings):
        fake.script = ["succeeded"]
        provider, job = get_provider(fake_cls.name), make_job(model_id)
        task_id = provider.submit(job)
        if fake_cls is FakeLuma:  # Luma deletes a finished generation too; only an unknown one is "over"
            task_id = "no-such-generation"
        else:
            assert provider.poll(task_id, job).state == "completed"
        assert provider.cancel(task_id, job) is False
        assert fake.cancelled == []


def test_a_vendor_outage_during_cancel_is_retryable(settings):
    for fake in running(FakeRunway, settings):
        provider, job = get_provider("runway"), make_job("runway-gen-4-turbo")
        task_id = provider.submit(job)
        fake.reply(503, {"error": "Service unavailable"})
        with pytest.raises(ProviderUnavailable):
            provider.cancel(task_id, job)


@pytest.mark.parametrize(("fake_cls", "model_id", "config"), NOT_CANCELLABLE, ids=lambda v: getattr(v, "name", None))
def test_vendors_without_a_cancel_call_answer_false_and_send_nothing(settings, fake_cls, model_id, config):
    for fake in running(fake_cls, settings, **config):
        provider, job = get_provider(fake_cls.name), make_job(model_id)
        task_id = provider.submit(job)
        sent = len(fake.requests)
        assert provider.cancel(task_id, job) is False
        assert len(fake.requests) == sent


def test_the_base_class_has_no_cancel():
    assert Provider().cancel("t1", make_job("runway-gen-4-turbo")) is False and not Provider.cancellable


def test_cancellable_says_which_protocols_have_a_cancel_call(settings):
    names = {f.name for f, _, _ in CANCELLABLE}
    assert {n for n in ("runway", "luma", "pika", "wan", "minimax", "veo", "sora", "kling")
            if get_provider(n).cancellable} == names
