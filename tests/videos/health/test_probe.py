"""The key probe against every fake vendor: one status request for a task that does not exist, which the
vendor answers "not found" with a key it accepts, and with its own auth refusal otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakevendors import running
from tests.fakevendors.kling import FakeKling
from tests.fakevendors.luma import FakeLuma
from tests.fakevendors.minimax import FakeMiniMax
from tests.fakevendors.pika import FakeFal
from tests.fakevendors.runway import FakeRunway
from tests.fakevendors.sora import FakeSora
from tests.fakevendors.veo import FakeVeo
from tests.fakevendors.wan import FakeWan
from videos.models import VendorState
from videos.services import vendor_state

pytestmark = pytest.mark.django_db
FAKES = [FakeKling, FakeLuma, FakeMiniMax, FakeFal, FakeRunway, FakeSora, FakeVeo, FakeWan]


@pytest.fixture(params=FAKES, ids=lambda cls: cls.name)
def fake(request: pytest.FixtureRequest, settings: Any) -> Any:
    config = {"secret_key": FakeKling.secret_key} if request.param is FakeKling else {}
    for vendor in running(request.param, settings, **config):
        yield vendor
        # The refused key is recorded as a problem by the fake; that refusal is what this test provokes.
        vendor.problems[:] = [p for p in vendor.problems if "Authorization" not in p and "api-key" not in p
                              and "JWT" not in p and "iss must" not in p]


def test_the_probe_tells_a_refused_key_from_an_accepted_one(fake):
    for _ in range(3):
        vendor_state.vendor_failure_record(vendor=fake.name, code="auth", detail="HTTP 401")
    accepted = fake.api_key
    fake.api_key = "rotated-at-the-vendor"
    assert vendor_state.vendor_probe(vendor=fake.name).startswith("still refused")
    assert VendorState.objects.get(vendor=fake.name).auth_state == "disabled"

    fake.api_key = accepted
    assert vendor_state.vendor_probe(vendor=fake.name) == "key accepted"
    assert VendorState.objects.get(vendor=fake.name).auth_state == "ok"
    assert fake.posted() == [] and fake.tasks == {}  # status requests only: nothing created, nothing billed
    assert {r.method for r in fake.requests} == {"GET"}
