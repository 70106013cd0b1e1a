from django.urls import path

from webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("settings/webhooks/", views.webhooks, name="webhooks"),
    path("settings/webhooks/<str:webhook_id>/", views.endpoint_detail, name="endpoint-detail"),
    path("settings/webhooks/<str:webhook_id>/toggle/", views.endpoint_toggle, name="endpoint-toggle"),
    path("settings/webhooks/<str:webhook_id>/rotate/", views.endpoint_secret_rotate, name="endpoint-secret-rotate"),
    path("settings/webhooks/<str:webhook_id>/delete/", views.endpoint_delete, name="endpoint-delete"),
    path("settings/webhooks/deliveries/<str:delivery_id>/redeliver/", views.delivery_redeliver,
         name="delivery-redeliver"),
]
