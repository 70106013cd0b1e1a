"""The Try page: the form shows what the model takes, submits through the services, errors sit by their field."""

import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from billing.models import CreditEntry
from tests.factories import make_user, png_bytes
from videos.models import GenerationSession, Video, VideoModel

pytestmark = pytest.mark.django_db
URL = reverse("videos:try")
HX = {"HX-Request": "true"}


def post(client, data, *, htmx=True, files=None):
    body = {"model": "luma-ray-2.0-flash-5s-t2v", "prompt": "A red kite over a beach", "mode": "single", **data}
    if files:
        body.update(files)
    return client.post(URL, body, headers=HX if htmx else {})


def test_it_requires_sign_in(client):
    r = client.get(URL)
    assert r.status_code == 302 and r.url.startswith(reverse("login"))


def test_it_lists_models_grouped_by_provider_with_price_and_availability(client, alice):
    client.force_login(alice)
    r = client.get(URL)
    assert r.status_code == 200
    body = r.content.decode()
    assert '<optgroup label="Luma">' in body and '<optgroup label="MiniMax Hailuo">' in body
    assert "Ray 2 Flash · 5s — T2V · 5s · 720p · 20 credits · simulated" in body  # the ids spelling: 720p
    assert 'hx-headers=\'{"x-csrftoken": "' in body  # CSRF for every htmx request
    assert "django_htmx/htmx-2.min.js" in body
    # Every script, style and image comes from us (the page also holds a random CSRF token, so no substring
    # test on the whole body): no address with a scheme or a protocol-relative one.
    external = re.findall(r"""(?:src|href)\s*=\s*["'](?:[a-z][a-z0-9+.-]*:)?//[^"']*""", body, flags=re.IGNORECASE)
    assert external == []


def test_it_shows_no_image_inputs_for_text_to_video(client, alice):
    client.force_login(alice)
    body = client.get(URL, {"model": "luma-ray-2.0-flash-5s-t2v"}).content.decode()
    assert 'name="head_image"' not in body and 'name="tail_image"' not in body


def test_it_shows_one_image_for_i2v_and_two_for_kf2v(client, alice):
    client.force_login(alice)
    i2v = client.get(URL, {"model": "wan-wan2.2-i2v-flash-5s-480p"}).content.decode()
    assert 'name="head_image"' in i2v and 'name="head_image_file"' in i2v and 'name="tail_image"' not in i2v
    kf2v = client.get(URL, {"model": "wan-wan2.1-kf2v-plus-5s-480p"}).content.decode()
    assert "Start image" in kf2v and 'name="tail_image"' in kf2v and 'name="tail_image_file"' in kf2v


def test_it_folds_provider_options_away_and_shows_only_the_models(client, alice):
    client.force_login(alice)
    body = client.get(URL, {"model": "minimax-hailuo-02-6s-768p-t2v"}).content.decode()
    assert "MiniMax Hailuo options</summary>" in body and 'name="promptOptimizer"' in body
    assert 'name="wanAudio"' not in body and 'name="strength"' not in body


def test_it_returns_only_the_model_fields_to_htmx(client, alice):
    client.force_login(alice)
    r = client.get(URL, {"model": "pika-v2.2-5s-720p-kf2v"}, headers={**HX, "HX-Target": "model-fields"})
    body = r.content.decode()
    assert r.status_code == 200 and "<html" not in body
    assert body.strip().startswith('<div id="model-fields">') and 'name="tail_image"' in body


def test_it_creates_a_video_and_answers_htmx_with_its_polling_card(client, alice):
    client.force_login(alice)
    r = post(client, {})
    assert r.status_code == 201
    video = Video.objects.get(owner=alice)
    body = r.content.decode()
    assert "<html" not in body and 'id="try-form"' in body
    assert 'hx-swap-oob="afterbegin:#results"' in body and f'id="card-{video.public_id}"' in body
    assert "hx-trigger=\"every 2s [document.visibilityState === 'visible' && !document.documentElement.hasAttribute('data-live')]\"" in body
    entry = CreditEntry.objects.get(account__user=alice, kind="charge")
    assert entry.delta == Decimal("-20.00") and entry.video_id == video.public_id
    assert video.session.kind == GenerationSession.Kind.SINGLE and video.prompt == "A red kite over a beach"


def test_it_redirects_to_the_video_without_htmx(client, alice):
    client.force_login(alice)
    r = post(client, {}, htmx=False)
    video = Video.objects.get(owner=alice)
    assert r.status_code == 302 and r.url == reverse("videos:video-detail", args=[video.public_id])


def test_it_starts_a_timed_session(client, alice):
    client.force_login(alice)
    r = post(client, {"mode": "session", "max_videos": "3", "interval_seconds": "30", "duration_minutes": "5"})
    assert r.status_code == 201
    session = GenerationSession.objects.get(owner=alice)
    assert (session.kind, session.max_videos, session.interval_seconds, session.duration_minutes) == (
        "timed", 3, 30, 5)
    assert session.public_id in r.content.decode()


def test_it_passes_advanced_and_provider_options_to_the_service(client, alice):
    client.force_login(alice)
    r = post(client, {"model": "minimax-hailuo-02-6s-768p-t2v", "duration": "6", "width": "320", "height": "180",
                      "frame_rate": "30", "seed": "7", "strategy": "cinematic", "promptOptimizer": "false"})
    assert r.status_code == 201
    params = GenerationSession.objects.get(owner=alice).params
    assert (params["duration"], params["width"], params["height"], params["frame_rate"], params["seed"]) == (
        6, 320, 180, 30, 7)
    assert params["strategy"] == "cinematic" and params["options"] == {"promptOptimizer": False}


def test_it_puts_a_bad_parameter_next_to_its_field(client, alice):
    client.force_login(alice)
    r = post(client, {"width": "320"})  # height missing
    body = r.content.decode()
    assert r.status_code == 422 and "<html" not in body
    assert 'id="id_height_error"' in body and "The width and the height go together" in body
    assert 'aria-invalid="true"' in body and "<details class=\"fold\" open>" in body  # Advanced unfolds
    assert not GenerationSession.objects.exists()


def test_it_puts_an_unoffered_duration_next_to_duration(client, alice):
    client.force_login(alice)
    r = post(client, {"duration": "9"})
    assert r.status_code == 422 and 'id="id_duration_error"' in r.content.decode()


def test_it_requires_the_image_of_an_i2v_model_next_to_the_image(client, alice):
    client.force_login(alice)
    r = post(client, {"model": "wan-wan2.2-i2v-flash-5s-480p"})
    body = r.content.decode()
    assert r.status_code == 422 and 'id="id_head_image_error"' in body and "needs a start image" in body


def test_it_rejects_an_upload_that_is_not_an_image_next_to_the_image(client, alice):
    client.force_login(alice)
    upload = SimpleUploadedFile("cat.png", b"not really a png", content_type="image/png")
    r = post(client, {"model": "wan-wan2.2-i2v-flash-5s-480p"}, files={"head_image_file": upload})
    assert r.status_code == 422 and 'id="id_head_image_error"' in r.content.decode()
    assert not CreditEntry.objects.filter(kind="charge").exists()


def test_it_accepts_an_uploaded_image_for_i2v(client, alice):
    client.force_login(alice)
    upload = SimpleUploadedFile("cat.png", png_bytes(320, 180), content_type="image/png")
    r = post(client, {"model": "wan-wan2.2-i2v-flash-5s-480p"}, files={"head_image_file": upload})
    assert r.status_code == 201
    assert GenerationSession.objects.get(owner=alice).params["head_image"].startswith("inputs/")


def test_it_refuses_a_url_and_an_upload_together(client, alice):
    client.force_login(alice)
    upload = SimpleUploadedFile("cat.png", png_bytes(), content_type="image/png")
    r = post(client, {"model": "wan-wan2.2-i2v-flash-5s-480p", "head_image": "https://example.com/a.png"},
             files={"head_image_file": upload})
    assert r.status_code == 422 and "not both" in r.content.decode()


def test_it_shows_402_next_to_the_button_and_charges_nothing(client, db):
    poor = make_user("poor", credits=5)
    client.force_login(poor)
    r = post(client, {})
    body = r.content.decode()
    assert r.status_code == 402 and 'id="credits-error"' in body and "Not enough credits" in body
    assert "this needs 20.00 and your balance is 5.00" in body
    assert not Video.objects.exists() and CreditEntry.objects.filter(kind="charge").count() == 0


def test_it_puts_a_disabled_model_error_next_to_the_model(client, alice):
    VideoModel.objects.filter(model_id="luma-ray-2.0-i2v-5s").update(enabled=False)
    client.force_login(alice)
    r = post(client, {"model": "luma-ray-2.0-i2v-5s"})
    assert r.status_code == 422 and 'id="id_model_error"' in r.content.decode()


def test_it_re_renders_the_whole_page_with_errors_without_htmx(client, alice):
    client.force_login(alice)
    r = post(client, {"prompt": ""}, htmx=False)
    body = r.content.decode()
    assert r.status_code == 422 and "<html" in body and 'id="id_prompt_error"' in body


def test_it_refuses_a_post_without_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    r = post(client, {})
    assert r.status_code == 403 and b"Traceback" not in r.content
    assert not Video.objects.exists()


def test_it_lists_only_the_users_own_recent_videos(client, alice, bob):
    from tests.factories import make_session

    make_session(owner=bob, prompt="Bob's secret lighthouse")
    make_session(owner=alice, prompt="Alice's meadow")
    client.force_login(alice)
    body = client.get(URL).content.decode()
    assert "Alice&#x27;s meadow" in body and "lighthouse" not in body


def test_it_remembers_the_last_model(client, alice):
    client.force_login(alice)
    assert post(client, {"model": "luma-ray-2.0-flash"}).status_code == 201
    body = client.get(URL).content.decode()
    assert '<option value="luma-ray-2.0-flash" selected>' in body


def test_errors_use_the_forms_words_not_the_apis(client, alice):
    client.force_login(alice)
    r = post(client, {"model": "wan-wan2.1-kf2v-plus-5s-480p"})
    body = r.content.decode()
    assert r.status_code == 422 and "add the start image (a URL or an upload)" in body
    assert "set head_image" not in body and "wan-wan2.1-kf2v-plus-5s-480p needs" not in body


def test_edit_in_try_fills_the_form_with_a_videos_settings(client, alice):
    from tests.factories import make_session

    video = make_session(owner=alice, model="luma-ray-2.0-flash", duration=9, aspect_ratio="9:16",
                         resolution="1080p", prompt="Snow on pines").videos.get()
    client.force_login(alice)
    page = client.get(reverse("videos:video-detail", args=[video.public_id])).content.decode()
    link = page.split('href="/?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    body = client.get("/?" + link).content.decode()
    assert '<option value="luma-ray-2.0-flash" selected>' in body and ">\nSnow on pines</textarea>" in body
    assert '<option value="9" selected>' in body and '<option value="9:16" selected>' in body
    assert '<option value="1080p" selected>' in body and 'data-credits="36.00"' in body
