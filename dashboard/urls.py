from django.contrib import admin
from django.urls import include, path

from dashboard import views
from dashboard.api import api
from videos.files import file_serve

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v3/", api.urls),
    path("files/<path:name>", file_serve, name="file"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("account/", views.account, name="account"),
    path("healthz", views.healthz, name="healthz"),
    path("", include("billing.urls")),
    path("", include("videos.urls")),
    path("", include("webhooks.urls")),
]
