"""Pricing: the catalog table, the same data as /api/v3/media-pricing/models."""

import pytest
from django.urls import reverse

from videos.models import VideoModel

pytestmark = pytest.mark.django_db


def test_it_shows_every_enabled_model_as_the_api_does(client, alice):
    VideoModel.objects.filter(model_id="sora-2-pro").update(enabled=False)
    client.force_login(alice)
    body = client.get(reverse("videos:pricing")).content.decode()
    api = client.get("/api/v3/media-pricing/models").json()["models"]
    assert api and "sora-2-pro" not in body
    for model in api:
        assert f'id="model-{model["model_id"]}"' in body and model["vendor_model"] in body
    assert "Ray 2 Flash · 5s" in body and "20.00" in body and "simulated" in body and "shut down by vendor" in body


def test_it_requires_sign_in(client):
    assert client.get(reverse("videos:pricing")).status_code == 302
