"""Writes of vendor state: count authentication failures, take a vendor's models off sale after repeated ones,
and put them back when an operator fixes the key or the probe's authenticated call gets through.

The state lives in the database (VendorState), so every web process and worker agrees on it; the health
cache (videos.health) is dropped whenever the auth state changes.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from videos.models import VendorState, VideoModel
from videos.providers import get_provider
from videos.providers.base import AUTH, Job, ProviderError, ProviderUnavailable

log = logging.getLogger(__name__)
Auth = VendorState.Auth

NOT_VENDOR_ERRORS = {"cancelled", "operator", "model_unavailable"}  # our own decisions, nothing the vendor said
# A status request for a task that does not exist, in each protocol's task id format: the vendor answers
# "not found" to a key it accepts and 401 to one it refuses. The default suits UUID-keyed protocols.
PROBE_TASK_IDS = {
    "kling": "text2video/000000000000000000",
    "pika": "fal-ai/pika|00000000-0000-4000-8000-000000000000",
}
PROBE_TASK_ID = "00000000-0000-4000-8000-000000000000"


def auth_failures_to_disable() -> int:
    return settings.VENDOR_AUTH_FAILURES_TO_DISABLE


def _changed() -> None:
    from videos.health import health_forget

    transaction.on_commit(health_forget)


def _state(vendor: str) -> VendorState:
    return VendorState.objects.get_or_create(vendor=vendor)[0]


def vendor_failure_record(*, vendor: str, code: str, detail: str = "") -> None:
    """Note a failure at `vendor` (our `code`, its raw text for operators). Each `auth` failure in a row counts:
    at auth_failures_to_disable() the vendor is disabled and its models answer 503 model_unavailable, before
    any charge, until vendor_enable() (an operator, or a probe that gets through)."""
    if not vendor or vendor == "local" or code in NOT_VENDOR_ERRORS:
        return
    _state(vendor)
    now = timezone.now()
    with transaction.atomic():
        state = VendorState.objects.select_for_update().get(vendor=vendor)  # failures counted one at a time
        state.last_error_class, state.last_error_detail, state.last_error_at = code[:40], detail[:4000], now
        if code == AUTH:
            state.auth_failures += 1
            if state.auth_failures >= auth_failures_to_disable() and state.auth_state != Auth.DISABLED:
                state.auth_state, state.disabled_at = Auth.DISABLED, now
                log.error("vendor %s disabled after %d authentication failures in a row: %s", vendor,
                          state.auth_failures, detail[:300])
            elif state.auth_state == Auth.OK:
                state.auth_state = Auth.FAILING
            _changed()
        state.save()


def vendor_success_record(*, vendor: str) -> None:
    """A call authenticated fine (a job was accepted): the count of auth failures in a row starts again.
    One UPDATE that touches nothing when the vendor is already healthy."""
    changed = (VendorState.objects.filter(vendor=vendor).exclude(auth_state=Auth.OK, auth_failures=0)
               .update(auth_state=Auth.OK, auth_failures=0, disabled_at=None, updated_at=timezone.now()))
    if changed:
        log.warning("vendor %s accepts our credentials again", vendor)
        _changed()


def vendor_enable(*, vendor: str, by: str) -> bool:
    """Put a disabled (or failing) vendor back on sale: an operator fixed its key, or the probe got through.
    True when something changed."""
    changed = (VendorState.objects.filter(vendor=vendor).exclude(auth_state=Auth.OK, auth_failures=0)
               .update(auth_state=Auth.OK, auth_failures=0, disabled_at=None, updated_at=timezone.now()))
    if changed:
        log.warning("vendor %s re-enabled by %s", vendor, by)
        _changed()
    return bool(changed)


def _probe_job(vendor: str) -> Job:
    model = VideoModel.objects.filter(provider=vendor).order_by("sort_order", "model_id").first()
    return Job(video_id="probe", prompt="", model_id=model.model_id if model else "", type=model.type if model else "t2v",
               vendor_model=model.vendor_model if model else "", duration=model.duration if model else 5,
               resolution=model.resolution if model else "720p", aspect_ratio="16:9", width=1280, height=720)


def _probe_task_id(vendor: str, job: Job) -> str:
    if vendor == "veo":  # an operation name: models/<model>/operations/<op>
        return f"models/{job.vendor_model}/operations/probe0000"
    return PROBE_TASK_IDS.get(vendor, PROBE_TASK_ID)


def vendor_probe(*, vendor: str) -> str:
    """One cheap authenticated call (the status of a task that does not exist). Anything but an auth refusal
    proves the key: the vendor is re-enabled. A 5xx/timeout proves nothing and changes nothing.
    Returns the outcome in words (kept on the row for operators)."""
    provider = get_provider(vendor)
    if not provider.is_configured():
        outcome = "not probed: no credentials configured"
    else:
        job = _probe_job(vendor)
        try:
            provider.poll(_probe_task_id(vendor, job), job)
        except ProviderUnavailable as e:
            outcome = f"inconclusive: {e.message}"
        except ProviderError as e:
            outcome = f"still refused: {e.message}" if e.code == AUTH else "key accepted"
        except Exception as e:  # noqa: BLE001 - an adapter surprised by the answer: the key question is open
            outcome = f"inconclusive: {type(e).__name__}"
        else:
            outcome = "key accepted"
    VendorState.objects.filter(vendor=vendor).update(probe_at=timezone.now(), probe_result=outcome[:200])
    if outcome == "key accepted":
        vendor_enable(vendor=vendor, by="probe")
    else:
        log.warning("probe of vendor %s: %s", vendor, outcome[:300])
    return outcome


def vendors_to_probe() -> list[str]:
    """Vendors whose models are off sale for a refused key."""
    return list(VendorState.objects.filter(auth_state=Auth.DISABLED).values_list("vendor", flat=True))


def vendor_states_ensure(vendors: list[str]) -> None:
    """A row for each vendor, so the admin lists them all (idempotent)."""
    VendorState.objects.bulk_create([VendorState(vendor=v) for v in vendors if v != "local"],
                                    ignore_conflicts=True)
