"""Project-level pages: the account page. Sign-in, sign-out and password change are django.contrib.auth's."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from billing import services as billing
from dashboard.http import HtmxHttpRequest


@login_required
@require_GET
def account(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "dashboard/account.html", {"balance": billing.credit_balance(user=request.user)})
