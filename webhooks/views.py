"""Dashboard pages of webhooks: endpoints (secret shown once), the delivery log, redeliver."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from dashboard.http import HtmxHttpRequest
from videos.exceptions import InvalidInput, NotFound
from webhooks import selectors, services
from webhooks.forms import EndpointForm
from webhooks.models import Delivery, Endpoint


def _endpoint(request: HtmxHttpRequest, webhook_id: str) -> Endpoint:
    try:
        return selectors.endpoint_get(user=request.user, public_id=webhook_id)
    except NotFound:
        raise Http404 from None


def _list_context(request: HtmxHttpRequest, **extra: Any) -> dict[str, Any]:
    return {
        "endpoints": selectors.endpoints_for_user(user=request.user),
        "form": EndpointForm(),
        "default_secret": services.signing_secret_get(user=request.user),
        "callbacks": selectors.callback_deliveries_for_user(user=request.user, limit=20),
        **extra,
    }


@login_required
@never_cache  # the response that shows a new secret must not be stored anywhere
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def webhooks(request: HtmxHttpRequest) -> HttpResponse:
    """GET: endpoints and the default secret. POST: register one; the response shows its secret, once."""
    template = "webhooks/webhooks.html"
    if request.method == "GET":
        return render(request, template, _list_context(request))
    form = EndpointForm(request.POST)
    if request.htmx:
        template += "#endpoints-panel"
    if form.is_valid():
        try:
            endpoint = services.endpoint_create(user=request.user, url=form.cleaned_data["url"],
                                                events=form.cleaned_data["events"],
                                                description=form.cleaned_data["description"])
        except InvalidInput as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message.split(": ", 1)[-1])
        else:
            return render(request, template, _list_context(request, new_endpoint=endpoint), status=201)
    return render(request, template, {**_list_context(request), "form": form}, status=422)


def _detail_context(endpoint: Endpoint, **extra: Any) -> dict[str, Any]:
    deliveries = selectors.deliveries_for_endpoint(endpoint=endpoint)
    return {"endpoint": endpoint, "deliveries": deliveries,
            "polling": any(d.status == Delivery.Status.PENDING for d in deliveries), **extra}


@login_required
@require_GET
@vary_on_headers("HX-Request")
def endpoint_detail(request: HtmxHttpRequest, webhook_id: str) -> HttpResponse:
    """The endpoint and its delivery log (to htmx polling, only the log)."""
    endpoint = _endpoint(request, webhook_id)
    template = "webhooks/endpoint_detail.html"
    if request.htmx:
        template += "#delivery-log"
    return render(request, template, _detail_context(endpoint))


@login_required
@require_POST
def endpoint_toggle(request: HtmxHttpRequest, webhook_id: str) -> HttpResponse:
    endpoint = _endpoint(request, webhook_id)
    services.endpoint_update(endpoint=endpoint, enabled=not endpoint.enabled)
    messages.success(request, f"Endpoint {'enabled' if endpoint.enabled else 'disabled'}.")
    return redirect("webhooks:endpoint-detail", webhook_id=endpoint.public_id)


@login_required
@never_cache  # shows the new secret
@require_POST
def endpoint_secret_rotate(request: HtmxHttpRequest, webhook_id: str) -> HttpResponse:
    """A new secret, shown in this response only; the old one keeps signing for 24 hours."""
    endpoint = services.endpoint_secret_rotate(endpoint=_endpoint(request, webhook_id))
    return render(request, "webhooks/endpoint_detail.html", _detail_context(endpoint, new_secret=endpoint.secret))


@login_required
@require_POST
def endpoint_delete(request: HtmxHttpRequest, webhook_id: str) -> HttpResponse:
    endpoint = _endpoint(request, webhook_id)
    services.endpoint_delete(endpoint=endpoint)
    messages.success(request, f"Endpoint {endpoint.url} deleted.")
    return redirect("webhooks:webhooks")


@login_required
@require_POST
@vary_on_headers("HX-Request")
def delivery_redeliver(request: HtmxHttpRequest, delivery_id: str) -> HttpResponse:
    """Send one delivery again now; the log shows the new attempt."""
    try:
        delivery = selectors.delivery_get(user=request.user, public_id=delivery_id)
    except NotFound:
        raise Http404 from None
    attempt = services.delivery_redeliver(delivery=delivery)
    if delivery.endpoint is None:
        return redirect("webhooks:webhooks")
    if request.htmx:
        return render(request, "webhooks/endpoint_detail.html#delivery-log",
                      _detail_context(delivery.endpoint, redelivered=delivery.public_id, attempt=attempt))
    messages.success(request, "Redelivered." if attempt.succeeded else "Redelivered: it failed again.")
    return redirect("webhooks:endpoint-detail", webhook_id=delivery.endpoint.public_id)
