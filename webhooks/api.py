"""/api/v3/webhooks: register endpoints, read the delivery log, redeliver, and the default signing secret."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from django.http import HttpResponse
from ninja import Router, Schema
from ninja.responses import Status
from pydantic import Field, StringConstraints

from dashboard.http import ApiRequest
from dashboard.conditional import not_modified
from videos.api.errors import POLL, POLL_ONE, READ, WRITE_ONE
from videos.api.inputs import PublicId
from videos.exceptions import NotFound
from webhooks import selectors, services
from webhooks.models import EVENTS, Attempt, Delivery, Endpoint

router = Router(tags=["webhooks"])

Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]


class EndpointIn(Schema):
    url: Url
    events: list[str] | None = Field(None, description=f"Any of {', '.join(EVENTS)}; omitted or empty: all.")
    description: str = Field("", max_length=200)


class EndpointPatch(Schema):
    url: Url | None = None
    events: list[str] | None = None
    description: str | None = Field(None, max_length=200)
    enabled: bool | None = None


class EndpointOut(Schema):
    id: str
    url: str
    description: str
    events: list[str]
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime

    @staticmethod
    def of(endpoint: Endpoint) -> EndpointOut:
        return EndpointOut(id=endpoint.public_id, url=endpoint.url, description=endpoint.description,
                           events=endpoint.events, enabled=endpoint.enabled,
                           disabled_reason=endpoint.disabled_reason or None, failing_since=endpoint.failing_since,
                           created_at=endpoint.created_at)


class EndpointCreatedOut(EndpointOut):
    secret: str = Field(description="whsec_…: shown only in this response. Verify signatures with it.")


class EndpointListOut(Schema):
    success: bool = True
    endpoints: list[EndpointOut]


class SecretOut(Schema):
    secret: str


class AttemptOut(Schema):
    created_at: datetime
    manual: bool
    succeeded: bool
    status_code: int | None
    latency_ms: int
    response_excerpt: str
    error: str | None

    @staticmethod
    def of(attempt: Attempt) -> AttemptOut:
        return AttemptOut(created_at=attempt.created_at, manual=attempt.manual, succeeded=attempt.succeeded,
                          status_code=attempt.status_code, latency_ms=attempt.latency_ms,
                          response_excerpt=attempt.response_excerpt, error=attempt.error or None)


class DeliveryOut(Schema):
    id: str
    message_id: str = Field(description="The webhook-id header: the same on every attempt.")
    event: str
    object_id: str
    status: str
    attempt_count: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    attempts: list[AttemptOut]

    @staticmethod
    def of(delivery: Delivery) -> DeliveryOut:
        return DeliveryOut(
            id=delivery.public_id, message_id=delivery.message.public_id, event=delivery.message.event,
            object_id=delivery.message.object_id, status=delivery.status, attempt_count=delivery.attempt_count,
            next_attempt_at=delivery.next_attempt_at if delivery.status == Delivery.Status.PENDING else None,
            last_error=delivery.last_error or None, created_at=delivery.created_at,
            attempts=[AttemptOut.of(a) for a in delivery.attempts.all()])


class DeliveryListOut(Schema):
    success: bool = True
    deliveries: list[DeliveryOut]


class RedeliverOut(Schema):
    success: bool
    attempt: AttemptOut


@router.get("/webhooks", response={200: EndpointListOut, **POLL}, summary="Your webhook endpoints")
def endpoint_list(request: ApiRequest) -> EndpointListOut | HttpResponse:
    if hit := not_modified(request, selectors.endpoints_version(user=request.auth.owner)):
        return hit
    endpoints = selectors.endpoints_for_user(user=request.auth.owner)
    return EndpointListOut(endpoints=[EndpointOut.of(e) for e in endpoints])


@router.post("/webhooks", response={201: EndpointCreatedOut, **READ}, summary="Register a webhook endpoint")
def endpoint_create(request: ApiRequest, payload: EndpointIn) -> Status[EndpointCreatedOut]:
    endpoint = services.endpoint_create(user=request.auth.owner, url=payload.url, events=payload.events,
                                        description=payload.description)
    return Status(201, EndpointCreatedOut(**EndpointOut.of(endpoint).model_dump(), secret=endpoint.secret))


@router.get("/webhooks/secret", response={200: SecretOut, **POLL},
            summary="The default secret that signs callback_url deliveries")
def secret(request: ApiRequest) -> SecretOut | HttpResponse:
    version = selectors.signing_secret_version(user=request.auth.owner)
    if version is None:  # the first read makes it
        services.signing_secret_get(user=request.auth.owner)
        version = selectors.signing_secret_version(user=request.auth.owner)
    if hit := not_modified(request, version or ()):
        return hit
    return SecretOut(secret=services.signing_secret_get(user=request.auth.owner))


@router.get("/webhooks/{webhook_id}", response={200: EndpointOut, **POLL_ONE}, summary="One webhook endpoint")
def endpoint_detail(request: ApiRequest, webhook_id: PublicId) -> EndpointOut | HttpResponse:
    if hit := not_modified(request, selectors.endpoint_version(user=request.auth.owner, public_id=webhook_id)):
        return hit
    return EndpointOut.of(selectors.endpoint_get(user=request.auth.owner, public_id=webhook_id))


@router.patch("/webhooks/{webhook_id}", response={200: EndpointOut, **WRITE_ONE}, summary="Change, enable or disable an endpoint")
def endpoint_update(request: ApiRequest, webhook_id: PublicId, payload: EndpointPatch) -> EndpointOut:
    endpoint = selectors.endpoint_get(user=request.auth.owner, public_id=webhook_id)
    endpoint = services.endpoint_update(endpoint=endpoint, **payload.model_dump(exclude_unset=True))
    return EndpointOut.of(endpoint)


@router.delete("/webhooks/{webhook_id}", response={204: None, **WRITE_ONE}, summary="Delete an endpoint and its log")
def endpoint_delete(request: ApiRequest, webhook_id: PublicId) -> Status[None]:
    services.endpoint_delete(endpoint=selectors.endpoint_get(user=request.auth.owner, public_id=webhook_id))
    return Status(204, None)


@router.post("/webhooks/{webhook_id}/secret/rotate", response={200: EndpointCreatedOut, **WRITE_ONE},
             summary="A new signing secret (shown once); the old one also signs for 24 h")
def endpoint_secret_rotate(request: ApiRequest, webhook_id: PublicId) -> EndpointCreatedOut:
    endpoint = selectors.endpoint_get(user=request.auth.owner, public_id=webhook_id)
    endpoint = services.endpoint_secret_rotate(endpoint=endpoint)
    return EndpointCreatedOut(**EndpointOut.of(endpoint).model_dump(), secret=endpoint.secret)


@router.get("/webhooks/{webhook_id}/deliveries", response={200: DeliveryListOut, **POLL_ONE},
            summary="The endpoint's delivery log")
def delivery_list(request: ApiRequest, webhook_id: PublicId) -> DeliveryListOut | HttpResponse:
    endpoint = selectors.endpoint_get(user=request.auth.owner, public_id=webhook_id)
    if hit := not_modified(request, selectors.deliveries_version(endpoint_pk=endpoint.pk)):
        return hit
    return DeliveryListOut(deliveries=[DeliveryOut.of(d) for d in selectors.deliveries_for_endpoint(endpoint=endpoint)])


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", response={200: RedeliverOut, **WRITE_ONE},
             summary="Send a delivery again, now")
def delivery_redeliver(request: ApiRequest, webhook_id: PublicId, delivery_id: PublicId) -> RedeliverOut:
    endpoint = selectors.endpoint_get(user=request.auth.owner, public_id=webhook_id)
    delivery = selectors.delivery_get(user=request.auth.owner, public_id=delivery_id)
    if delivery.endpoint_id != endpoint.pk:
        raise NotFound("Delivery not found.", field="delivery_id")
    attempt = services.delivery_redeliver(delivery=delivery)
    return RedeliverOut(success=attempt.succeeded, attempt=AttemptOut.of(attempt))
