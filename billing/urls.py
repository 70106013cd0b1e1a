from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("settings/api-keys/", views.api_keys, name="api-keys"),
    path("settings/api-keys/<int:key_id>/revoke/", views.api_key_revoke, name="api-key-revoke"),
    path("credits/", views.credits, name="credits"),
    path("credits/ledger.csv", views.ledger_csv, name="ledger-csv"),
    path("usage/", views.usage, name="usage"),
]
