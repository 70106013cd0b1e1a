"""One allow-list for every user-chosen URL: OUTBOUND_ALLOW_HOSTS, with IMAGE_FETCH_ALLOW_HOSTS still honoured."""

from __future__ import annotations

import pytest

from tests.factories import png_bytes
from videos.images.accept import image_accept
from videos.images.errors import ImageError
from webhooks import outbound


def test_image_fetching_and_webhooks_share_the_allow_list(receiver, settings):
    settings.IMAGE_FETCH_ALLOW_HOSTS = []
    settings.OUTBOUND_ALLOW_HOSTS = []
    with pytest.raises(ImageError):
        image_accept(receiver.url, field="head_image")
    with pytest.raises(outbound.UrlRefused):
        outbound.url_check(receiver.url)
    assert receiver.requests == []

    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]  # the new name lets both through
    receiver.reply(200, png_bytes(64, 48), {"Content-Type": "image/png"})
    assert image_accept(receiver.url, field="head_image").width == 64
    assert outbound.url_check(receiver.url) == receiver.url


@pytest.mark.parametrize("url", ["http://[::ffff:127.0.0.1]/x", "http://2130706433/x", "http://0177.0.0.1/x",
                                 "http://127.1/x", "http://[fe80::1]/x", "http://100.64.0.1/x"])
def test_every_spelling_of_a_private_address_is_refused(url, settings):
    settings.IMAGE_FETCH_ALLOW_HOSTS = []
    with pytest.raises(outbound.UrlRefused, match="private, local or reserved"):
        outbound.url_check(url)
    with pytest.raises(outbound.UrlRefused):
        outbound.post(url, body=b"{}", headers={}, timeout=1)
