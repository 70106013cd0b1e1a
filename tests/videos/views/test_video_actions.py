"""Cancel (refunded), retry a failed video, run again with the same settings, copy as code; strangers get 404."""

import json
import shlex
from decimal import Decimal

import pytest
from django.urls import reverse

from billing import services as billing
from billing.models import CreditEntry
from tests.factories import data_uri, make_session, png_bytes
from videos import services
from videos.models import GenerationSession, Video
from videos.views.code import cli, curl, request_body

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


def _video(owner, **kwargs):
    return make_session(owner=owner, **kwargs).videos.get()


def test_cancel_fails_the_video_and_refunds_it(client, alice):
    video = _video(alice, model="luma-ray-2.0-flash", duration=9)
    Video.objects.filter(pk=video.pk).update(status=Video.Status.PROCESSING, progress=30)
    client.force_login(alice)
    r = client.post(reverse("videos:video-cancel", args=[video.public_id]), headers=HX)
    body = r.content.decode()
    assert r.status_code == 200 and body.strip().startswith("<article")
    assert "Cancelled" in body and "36.00 credits refunded" in body and "hx-trigger" not in body
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED and video.error_code == "cancelled"
    refund = CreditEntry.objects.get(account__user=alice, kind=CreditEntry.Kind.REFUND)
    assert refund.delta == Decimal("36.00") and refund.video_id == video.public_id
    assert billing.credit_balance(user=alice) == Decimal("1000.00")
    # Twice: nothing more refunded.
    client.post(reverse("videos:video-cancel", args=[video.public_id]), headers=HX)
    assert CreditEntry.objects.filter(kind=CreditEntry.Kind.REFUND).count() == 1


def test_cancel_without_htmx_redirects_with_the_refund_said(client, alice):
    video = _video(alice)
    client.force_login(alice)
    r = client.post(reverse("videos:video-cancel", args=[video.public_id]), follow=True)
    assert "Cancelled: 20.00 credits refunded." in r.content.decode()


def test_a_completed_video_cannot_be_cancelled(client, alice):
    video = _video(alice)
    Video.objects.filter(pk=video.pk).update(status=Video.Status.COMPLETED)
    client.force_login(alice)
    client.post(reverse("videos:video-cancel", args=[video.public_id]), headers=HX)
    video.refresh_from_db()
    assert video.status == Video.Status.COMPLETED and not CreditEntry.objects.filter(kind="refund").exists()


def test_retry_makes_a_new_video_with_the_same_request(client, alice):
    video = _video(alice, model="luma-ray-2.0-flash", duration=9, aspect_ratio="9:16", seed=42)
    services.video_fail(video.pk, error="The vendor refused.", code="vendor_error")
    client.force_login(alice)
    r = client.post(reverse("videos:video-retry", args=[video.public_id]))
    new = Video.objects.exclude(pk=video.pk).get(owner=alice)
    assert r.status_code == 302 and r["Location"] == reverse("videos:video-detail", args=[new.public_id])
    assert new.session_id != video.session_id and new.status == Video.Status.PENDING
    assert (new.duration, new.aspect_ratio, new.params["seed"], new.prompt) == (9, "9:16", 42, video.prompt)
    assert new.credits_used == Decimal("36.00")
    assert billing.credit_balance(user=alice) == Decimal("964.00")


def test_retry_only_retries_failed_videos(client, alice):
    video = _video(alice)
    client.force_login(alice)
    client.post(reverse("videos:video-retry", args=[video.public_id]))
    assert Video.objects.filter(owner=alice).count() == 1


def test_same_settings_again_keeps_the_images_and_draws_a_new_seed(client, alice):
    image = data_uri(png_bytes(320, 180))
    video = _video(alice, model="luma-ray-2.0-i2v-5s", head_image=image, seed=7)
    Video.objects.filter(pk=video.pk).update(status=Video.Status.COMPLETED)
    client.force_login(alice)
    client.post(reverse("videos:video-again", args=[video.public_id]))
    new = Video.objects.exclude(pk=video.pk).get(owner=alice)
    assert new.model.model_id == "luma-ray-2.0-i2v-5s" and new.session.params.get("head_image")
    assert new.session.params["head_image"] != video.session.params["head_image"]  # its own stored copy


def test_again_without_credits_says_so_and_charges_nothing(client, alice):
    video = _video(alice)
    Video.objects.filter(pk=video.pk).update(status=Video.Status.COMPLETED)
    billing.credits_charge(user=alice, amount=billing.credit_balance(user=alice), key="drain")
    client.force_login(alice)
    r = client.post(reverse("videos:video-again", args=[video.public_id]), follow=True)
    assert "Not enough credits" in r.content.decode()
    assert Video.objects.filter(owner=alice).count() == 1


@pytest.mark.parametrize("action", ["video-cancel", "video-retry", "video-again"])
def test_a_stranger_gets_404_and_changes_nothing(client, alice, bob, action):
    video = _video(alice)
    client.force_login(bob)
    assert client.post(reverse(f"videos:{action}", args=[video.public_id])).status_code == 404
    video.refresh_from_db()
    assert video.status == Video.Status.PENDING and Video.objects.count() == 1


def test_actions_need_post(client, alice):
    video = _video(alice)
    client.force_login(alice)
    assert client.get(reverse("videos:video-cancel", args=[video.public_id])).status_code == 405


def test_the_page_shows_copy_as_code(client, alice):
    video = _video(alice, model="luma-ray-2.0-flash", duration=9, seed=5)
    client.force_login(alice)
    body = client.get(reverse("videos:video-detail", args=[video.public_id])).content.decode()
    assert 'id="code-curl"' in body and 'id="code-python"' in body and 'id="code-cli"' in body
    assert "/api/v3/videos/generate" in body and "mcpvideo generate --model luma-ray-2.0-flash" in body


def test_the_code_asks_for_the_same_video(alice):
    video = _video(alice, model="luma-ray-2.0-flash", duration=9, aspect_ratio="1:1", seed=5,
                   prompt="It's a \"quoted\" prompt")
    body = request_body(video, base="http://x")
    assert body == {"model": "luma-ray-2.0-flash", "prompt": "It's a \"quoted\" prompt", "duration": 9,
                    "aspect_ratio": "1:1", "resolution": "720p", "seed": 5}
    words = shlex.split(curl(video, base="http://x").replace("\\\n", " "))
    assert json.loads(words[words.index("-d") + 1]) == body
    assert shlex.split(cli(video, base="http://x")) == [
        "mcpvideo", "generate", "--model", "luma-ray-2.0-flash", "--prompt", "It's a \"quoted\" prompt",
        "--duration", "9", "--aspect-ratio", "1:1", "--resolution", "720p", "--seed", "5", "--wait", "-o",
        f"{video.public_id}.mp4"]


def test_the_code_of_a_timed_session_starts_a_session(alice):
    session = make_session(owner=alice, timed=True, max_videos=4, interval_seconds=30, duration_minutes=10)
    video = session.videos.get()
    assert session.kind == GenerationSession.Kind.TIMED
    assert "/api/v3/videos/sessions" in curl(video, base="http://x")
    assert request_body(video, base="http://x")["max_videos"] == 4
    words = shlex.split(cli(video, base="http://x"))
    assert words[:3] == ["mcpvideo", "sessions", "create"] and words[-6:] == [
        "--max-videos", "4", "--interval", "30", "--minutes", "10"]


def test_the_cli_line_says_what_it_cannot_carry(alice):
    video = _video(alice, model="luma-ray-2.0-flash", width=320, height=180, frame_rate=30)
    line = cli(video, base="http://x")
    assert line.startswith("# The CLI has no option for: width, height, frame_rate")


def test_the_python_snippet_is_valid_python_with_the_same_body(alice):
    import ast

    from videos.views.code import python

    video = _video(alice, model="luma-ray-2.0-flash", duration=9, seed=5, prompt='Say "hi" \\ it\'s')
    tree = ast.parse(python(video, base="http://x"))
    body = next(node.value for node in tree.body if isinstance(node, ast.Assign) and node.targets[0].id == "body")
    assert ast.literal_eval(body) == request_body(video, base="http://x")


def test_input_images_are_shown_beside_the_result(client, alice):
    head, tail = data_uri(png_bytes(320, 180)), data_uri(png_bytes(320, 180, (10, 90, 200)))
    video = _video(alice, model="wan-wan2.1-kf2v-plus-5s-480p", head_image=head, tail_image=tail)
    client.force_login(alice)
    card = client.get(reverse("videos:video-detail", args=[video.public_id]), headers=HX).content.decode()
    assert 'alt="Start image"' in card and 'alt="End image"' in card
    assert f"/files/inputs/{alice.pk}/{video.session.public_id}/head.png?expires=" in card
    page = client.get(reverse("videos:video-detail", args=[video.public_id])).content.decode()
    assert "Made from" in page and "<figcaption>End image</figcaption>" in page
    # The copied request sends the same images again, by signed URL.
    assert request_body(video, base="http://testserver")["tail_image"].startswith(
        f"http://testserver/files/inputs/{alice.pk}/{video.session.public_id}/tail.png?expires=")
