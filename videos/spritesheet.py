"""A JPEG grid of evenly spaced frames of a stored MP4, made on first request and kept in storage.

Served as /v1/videos/{id}/content?variant=spritesheet; `session_delete` removes it with the video's other files.
"""

from __future__ import annotations

import io
import math

import av
from django.core.files.storage import default_storage
from PIL import Image

from videos import files

COLUMNS = 5
TILES = 25
TILE_WIDTH = 256


def spritesheet_name(video_file: str) -> str:
    stem = video_file.rsplit(".", 1)[0]
    return f"{stem}.sprites.jpg"


def _frames(handle: io.BufferedIOBase, count: int) -> list[Image.Image]:
    with av.open(handle) as container:
        stream = container.streams.video[0]
        total = stream.frames or int(float((stream.duration or 0) * (stream.time_base or 0)) *
                                     float(stream.average_rate or 24))
        tile_height = max(2, round(TILE_WIDTH * stream.height / stream.width))
        wanted = {round(i * (total - 1) / max(1, count - 1)) for i in range(count)} if total > 0 else None
        tiles: list[Image.Image] = []
        for index, frame in enumerate(container.decode(stream)):
            if wanted is None or index in wanted:
                tiles.append(frame.to_image().resize((TILE_WIDTH, tile_height), Image.Resampling.BILINEAR))
            if wanted is None and len(tiles) >= count:
                break
        return tiles


def spritesheet_make(video_file: str) -> str:
    """The storage name of `video_file`'s spritesheet, rendering it first if it is not stored yet."""
    name = spritesheet_name(video_file)
    if default_storage.exists(name):
        return name
    with default_storage.open(video_file, "rb") as handle:
        tiles = _frames(handle, TILES)
    if not tiles:
        raise ValueError(f"{video_file} has no frames")
    columns = min(COLUMNS, len(tiles))
    rows = math.ceil(len(tiles) / columns)
    width, height = tiles[0].size
    sheet = Image.new("RGB", (columns * width, rows * height))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % columns) * width, (i // columns) * height))
    out = io.BytesIO()
    sheet.save(out, "JPEG", quality=85)
    return files.file_save(name, out.getvalue())
