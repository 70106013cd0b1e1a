"""data: URIs, format sniffing, pixel caps, AcceptedImage, KF2V pairs, errors and settings."""

from __future__ import annotations

import base64
import pickle
import time
from collections.abc import Iterator

import pytest
from django.conf import UserSettingsHolder, global_settings, settings
from PIL import ImageFile

from videos.images import AcceptedImage, ImageError, image_accept, image_pair_check

from .conftest import ImageServer, SocketGuard, make_image, png_header_only


def _uri(data: bytes, declared: str = "image/png") -> str:
    return f"data:{declared};base64,{base64.b64encode(data).decode()}"


def _accept(value: str, **kwargs: object) -> AcceptedImage:
    return image_accept(value, field="tail_image", allow_hosts=[], **kwargs)  # type: ignore[arg-type]


def _error(value: str, **kwargs: object) -> ImageError:
    with pytest.raises(ImageError) as info:
        _accept(value, **kwargs)
    assert info.value.field == "tail_image" and info.value.message.startswith("tail_image: ")
    return info.value


@pytest.mark.parametrize(
    ("fmt", "content_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_data_uris_are_accepted_and_sniffed(fmt: str, content_type: str, sockets: SocketGuard) -> None:
    body = make_image(fmt, (100, 40))
    image = _accept(_uri(body, declared="image/gif"))  # the declared type is ignored
    assert (image.content_type, image.width, image.height, image.data) == (content_type, 100, 40, body)
    assert sockets.attempts == []


def test_data_uris_tolerate_wrapped_base64_and_parameters() -> None:
    b64 = base64.b64encode(make_image()).decode()
    wrapped = "\n".join(b64[i : i + 76] for i in range(0, len(b64), 76))
    assert _accept(f"DATA:image/PNG;name=a.png;base64,{wrapped}").content_type == "image/png"


@pytest.mark.parametrize(
    "value",
    [
        "data:image/png;base64,not*base64!",
        "data:image/png;base64,iVBORw0KGgo",  # bad padding
        "data:image/png;base64,",
        "data:image/png,rawbytes",  # not base64
        "data:text/plain;base64,aGVsbG8=",
        "data:;base64,aGVsbG8=",
        "data:image/png;base64",
    ],
)
def test_bad_data_uris_are_invalid(value: str) -> None:
    assert _error(value).code == "invalid_image"


@pytest.mark.parametrize(
    ("body", "declared"),
    [
        (make_image("GIF"), "image/gif"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image/svg+xml"),
        (b"<html>hi</html>", "image/png"),
        (make_image("BMP"), "image/bmp"),
        (b"RIFF\0\0\0\0WAVEfmt ", "image/webp"),
    ],
)
def test_other_formats_are_unsupported(body: bytes, declared: str) -> None:
    assert _error(_uri(body, declared)).code == "unsupported_image_format"


def test_data_uris_over_the_cap_are_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded = []
    real = base64.b64decode
    monkeypatch.setattr(base64, "b64decode", lambda *a, **k: decoded.append(1) or real(*a, **k))
    body = make_image("PNG", (64, 64)) + b"\0" * 5000
    error = _error(_uri(body), max_bytes=len(body) - 10)
    assert error.code == "image_too_large" and decoded == []
    assert _accept(_uri(body), max_bytes=len(body)).width == 64


@pytest.mark.parametrize("size", [(100_000, 100_000), (65_535, 65_535), (8000, 6000)])
def test_pixel_bombs_are_refused_from_the_header(
    monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    loads = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: loads.append(self))
    started = time.monotonic()
    error = _error(_uri(png_header_only(*size)))  # 8000x6000 = 48 MP: over our 40 MP, under Pillow's own cap
    assert error.code == "image_too_large"
    assert loads == []  # no pixel buffer was ever allocated
    assert time.monotonic() - started < 0.5


def test_the_pixel_cap_is_a_parameter() -> None:
    assert _error(_uri(make_image("PNG", (100, 100))), max_pixels=9_999).code == "image_too_large"
    assert _accept(_uri(make_image("PNG", (100, 100))), max_pixels=10_000).width == 100


@pytest.mark.parametrize("size", [(15, 100), (100, 8), (1, 1)])
def test_tiny_images_are_invalid(size: tuple[int, int]) -> None:
    error = _error(_uri(make_image("PNG", size)))
    assert error.code == "invalid_image" and "16" in error.message


def test_sixteen_pixels_is_enough() -> None:
    assert _accept(_uri(make_image("PNG", (16, 16)))).width == 16


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_truncated_images_are_invalid(fmt: str) -> None:
    body = make_image(fmt, (256, 256))
    assert _error(_uri(body[: len(body) // 2])).code == "invalid_image"


def test_a_png_with_a_corrupt_chunk_is_invalid() -> None:
    body = bytearray(make_image("PNG", (64, 64)))
    body[-20] ^= 0xFF  # inside the IDAT chunk: its CRC no longer matches
    assert _error(_uri(bytes(body))).code == "invalid_image"


def test_garbage_after_a_magic_number_is_invalid() -> None:
    assert _error(_uri(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)).code == "invalid_image"
    assert _error(_uri(b"\xff\xd8\xff" + b"\0" * 64)).code == "invalid_image"


def test_accepted_image_helpers() -> None:
    body = make_image("JPEG", (32, 32))
    image = _accept(_uri(body))
    assert image.extension == "jpg"
    assert image.base64() == base64.b64encode(body).decode()
    assert image.data_uri() == "data:image/jpeg;base64," + image.base64()
    assert _accept(image.data_uri()) == image
    assert "data=" not in repr(image)  # megabytes of bytes have no place in logs
    with pytest.raises(AttributeError):
        image.width = 1  # type: ignore[misc]


def _image(width: int, height: int) -> AcceptedImage:
    return AcceptedImage(data=b"", content_type="image/png", width=width, height=height)


@pytest.mark.parametrize(
    ("head", "tail"), [((1920, 1080), (1280, 720)), ((1920, 1080), (1280, 718)), ((512, 512), (1024, 1024))]
)
def test_pair_check_passes_matching_aspect_ratios(head: tuple[int, int], tail: tuple[int, int]) -> None:
    image_pair_check(_image(*head), _image(*tail))


@pytest.mark.parametrize(("head", "tail"), [((1920, 1080), (1080, 1920)), ((1920, 1080), (1440, 1080)),
                                            ((1000, 1000), (1000, 970))])
def test_pair_check_refuses_different_aspect_ratios(head: tuple[int, int], tail: tuple[int, int]) -> None:
    with pytest.raises(ImageError) as info:
        image_pair_check(_image(*head), _image(*tail))
    assert info.value.field == "tail_image" and info.value.code == "invalid_image"
    assert f"{tail[0]}x{tail[1]}" in info.value.message and "aspect ratio" in info.value.message


def test_pair_check_names_the_field_and_takes_a_tolerance() -> None:
    with pytest.raises(ImageError) as info:
        image_pair_check(_image(100, 100), _image(100, 90), field="imageTail")
    assert info.value.field == "imageTail" and info.value.message.startswith("imageTail: ")
    image_pair_check(_image(100, 100), _image(100, 90), tolerance=0.15)


def test_image_error_contract() -> None:
    error = ImageError("head_image: nope.", field="head_image", code="image_too_large")
    assert (str(error), error.message, error.field, error.code) == ("head_image: nope.", "head_image: nope.",
                                                                     "head_image", "image_too_large")
    assert ImageError("x", field="f").code == "invalid_image"
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.message, copy.field, copy.code) == (error.message, error.field, error.code)
    with pytest.raises(ValueError):
        ImageError("x", field="f", code="typo")


@pytest.fixture
def holder() -> Iterator[UserSettingsHolder]:
    """Swap in fresh settings whether or not Django is configured (these tests run with -p no:django).

    Not monkeypatch: it calls isclass() on the lazy object, which would try to configure it.
    Assigning `_wrapped` also clears LazySettings' attribute cache, both ways.
    """
    original = settings._wrapped
    settings._wrapped = fresh = UserSettingsHolder(global_settings)
    yield fresh
    settings._wrapped = original


def test_allow_hosts_default_to_the_setting(
    server: ImageServer, sockets: SocketGuard, holder: UserSettingsHolder
) -> None:
    sockets.allowed.add(("127.0.0.1", server.port))
    url = server.serve("/a.png", make_image())

    with pytest.raises(ImageError) as info:  # setting absent: nothing is exempt
        image_accept(url, field="head_image")
    assert info.value.code == "forbidden_address"

    holder.IMAGE_FETCH_ALLOW_HOSTS = ["example.org", "127.0.0.1"]
    assert image_accept(url, field="head_image").width == 64
    holder.IMAGE_FETCH_ALLOW_HOSTS = "example.org, 127.0.0.1"  # a raw env string, not characters
    assert image_accept(url, field="head_image").width == 64
    with pytest.raises(ImageError):  # an explicit list wins over the setting
        image_accept(url, field="head_image", allow_hosts=[])
