"""Usage at a glance and lists that behave, in headless Chromium: charts with real data, filters and pages in
the URL, a grid that holds every aspect ratio, a phone menu that reaches every section, a visible focus ring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from tests.browser.conftest import PHONE, shoot, sign_in
from tests.factories import make_session, make_user
from videos import services
from videos.catalog import catalog_sync
from videos.models import Video, VideoModel
from videos.tasks import video_start_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def alice(transactional_db: None) -> User:
    catalog_sync(VideoModel)
    return make_user("alice", credits=1000)


def test_usage_charts_render_with_real_data(page: Any, alice: User, no_broker: list[int]):
    done = make_session(owner=alice, model="luma-ray-2.0-flash", duration=9, width=320, height=180).videos.get()
    video_start_task(done.pk)  # what the worker does: a real render, a real processing time
    done.refresh_from_db()
    assert done.status == Video.Status.COMPLETED
    failed = make_session(owner=alice, model="wan-v2-5-preview").videos.get()
    services.video_fail(failed.pk, error="The vendor refused.", code="vendor_error")
    make_session(owner=alice, model="luma-ray-2.0-flash-5s-t2v")  # still pending: charged, 20
    sign_in(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Usage").click()
    page.wait_for_function("window.Chart && Chart.getChart('chart-vendor')")
    daily = page.evaluate("Chart.getChart('chart-daily').data.datasets[0].data")
    assert round(sum(daily), 2) == 56.0 and daily[-1] == 56.0
    models = page.evaluate("(() => { const c = Chart.getChart('chart-model');"
                           " return [c.data.labels, c.data.datasets[0].data]; })()")
    assert models == [["luma-ray-2.0-flash", "luma-ray-2.0-flash-5s-t2v"], [36, 20]]
    assert page.evaluate("Chart.getChart('chart-key').data.labels") == ["Dashboard"]
    rate = page.evaluate("Chart.getChart('chart-vendor').data.datasets[0].data")
    assert rate == [50]  # one of two finished videos completed (both rendered locally)
    # Something is drawn: the canvas is not blank.
    painted = page.evaluate("""(() => { const c = document.getElementById('chart-daily');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; })()""")
    assert painted > 500
    assert page.locator("#usage-spent").inner_text() == "56.00"
    shoot(page, "30-usage")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download ledger (CSV)").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("created_at,kind,amount") and done.public_id in text


def _videos(owner: User, n: int, **kwargs: Any) -> list[Video]:
    return [make_session(owner=owner, prompt=f"Scene number {i}", **kwargs).videos.get() for i in range(n)]


def test_filters_and_pages_survive_a_reload(page: Any, alice: User, no_broker: list[int]):
    videos = _videos(alice, 13)
    for video in videos[:2]:
        services.video_fail(video.pk, error="The vendor refused.", code="vendor_error")
    sign_in(page)
    page.goto("/videos/")
    page.get_by_label("Status", exact=True).select_option("failed")
    page.wait_for_url("**/videos/?*status=failed*")
    page.locator("#video-grid >> text=2 videos match").wait_for()
    page.reload()
    assert page.get_by_label("Status", exact=True).input_value() == "failed"
    assert page.locator("#video-grid article.card").count() == 2
    page.get_by_label("Status", exact=True).select_option("")
    page.locator("#video-grid >> text=13 videos").wait_for()
    page.get_by_role("link", name="Next →").click()
    page.wait_for_url("**page=2*")
    page.reload()
    assert "Page 2 of 2" in page.locator(".pagination").inner_text()
    assert page.locator("#video-grid article.card").count() == 1
    # Sessions too, and the address can be shared.
    page.goto("/sessions/?status=error&search=number+1")
    assert page.get_by_label("Status", exact=True).input_value() == "error"
    assert page.get_by_label("Search prompts").input_value() == "number 1"
    assert "1 session matches" in page.locator("#session-list").inner_text()  # "Scene number 1" failed


def test_the_history_grid_holds_every_aspect_ratio(page: Any, alice: User, no_broker: list[int]):
    sizes = {"16:9": (320, 180), "9:16": (180, 320), "1:1": (240, 240)}
    for ratio, (width, height) in sizes.items():
        video = make_session(owner=alice, aspect_ratio=ratio, width=width, height=height,
                             prompt=f"A lantern festival, {ratio}").videos.get()
        video_start_task(video.pk)
    sign_in(page)
    page.goto("/videos/")
    page.locator("#video-grid video").nth(2).wait_for()
    page.wait_for_function("[...document.querySelectorAll('#video-grid video')].every(v => v.readyState >= 1)")
    boxes = page.evaluate("""[...document.querySelectorAll('#video-grid .card')].map(c => {
        const m = c.querySelector('.card-media').getBoundingClientRect(), v = c.querySelector('video').getBoundingClientRect();
        return {ratio: c.dataset.ratio, w: m.width, h: m.height, vw: v.width, vh: v.height, cardH: c.getBoundingClientRect().height}; })""")
    assert {b["ratio"] for b in boxes} == set(sizes)
    heights = {round(b["h"]) for b in boxes}
    assert len(heights) == 1, boxes  # one frame height per row: portrait videos don't stretch their card
    for b in boxes:
        assert abs(b["w"] / b["h"] - 16 / 9) < 0.02 and b["vw"] <= b["w"] + 1 and b["vh"] <= b["h"] + 1
    shoot(page, "31-history-ratios")


def test_the_phone_menu_reaches_every_section(page: Any, alice: User):
    sign_in(page)
    page.set_viewport_size(PHONE)
    nav = page.get_by_role("navigation", name="Main")
    for name in ("Try", "History", "Sessions", "API keys", "Credits", "Usage", "Pricing"):
        box = nav.get_by_role("link", name=name, exact=True).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (name, box)
        hit = page.evaluate("([x, y]) => document.elementFromPoint(x, y).textContent.trim()",
                            [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
        assert hit == name  # on screen and not covered
    page.screenshot(path="/tmp/shots/32-phone-menu.png")
    nav.get_by_role("link", name="Pricing").click()
    page.wait_for_url("**/pricing/")
    assert page.get_by_role("heading", name="Pricing").is_visible()


def test_the_focus_ring_shows_on_the_dark_header_and_on_the_page(page: Any, alice: User):
    sign_in(page)
    page.keyboard.press("Tab")  # skip link
    page.keyboard.press("Tab")  # brand, in the dark header
    ring = page.evaluate("""(() => { const s = getComputedStyle(document.activeElement);
        return [document.activeElement.closest('.site-header') !== null, s.outlineStyle, s.outlineWidth, s.outlineColor]; })()""")
    assert ring[0] is True and ring[1] == "solid" and ring[2] == "3px"
    assert ring[3] == "rgb(199, 210, 254)"  # light on dark (#c7d2fe)
    page.keyboard.press("Tab")  # Try, in the nav
    page.screenshot(path="/tmp/shots/33-focus-header.png", clip={"x": 0, "y": 0, "width": 700, "height": 60})
    page.get_by_label("Prompt", exact=True).focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    style = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert style == "solid"
    page.screenshot(path="/tmp/shots/33-focus.png")
