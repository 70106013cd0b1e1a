from django.contrib import admin
from django.urls import include, path

from dashboard import views
from dashboard.metrics import metrics_view
from dashboard.api import api
from openai_compat.api import api as openai_api
from videos.files import file_serve

urlpatterns = [
    path("admin/processes/", views.processes, name="admin-processes"),  # before the admin's catch-all
    path("admin/", admin.site.urls),
    path("api/v3/", api.urls),
    path("v1/", openai_api.urls),  # OpenAI's videos API on our keys
    path("files/<path:name>", file_serve, name="file"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("account/", views.account, name="account"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("live/events", views.live_events, name="live-events"),  # served by dashboard.live under ASGI
    path("", include("billing.urls")),
    path("", include("videos.urls")),
    path("", include("webhooks.urls")),
]
