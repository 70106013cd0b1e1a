"""The model catalog as shipped. `manage.py sync_catalog` (run after every `migrate`) writes it to the
database; operators edit price and `enabled` in the admin.

`catalog_sync` inserts missing models and refreshes the technical fields of known ones, but never touches
what an operator owns (credits, enabled), so re-running it after an upgrade keeps their prices.
"""

from decimal import Decimal
from typing import Any

ALL_RATIOS = ["16:9", "9:16", "1:1", "4:3", "3:4", "21:9"]
OPERATOR_FIELDS = {"credits", "enabled", "fallback"}  # never overwritten by a sync


def _m(model_id: str, provider: str, name: str, type_: str, vendor_model: str, *, credits: str, duration: int,
       resolution: str, durations: list[int] | None = None, resolutions: list[str] | None = None,
       ratios: list[str] | None = None, head: str = "none", tail: str = "none", params: list[str] | None = None,
       note: str = "", lifecycle: str = "active", lifecycle_note: str = "") -> dict[str, Any]:
    return {
        "model_id": model_id, "provider": provider, "display_name": name, "type": type_,
        "vendor_model": vendor_model, "credits": Decimal(credits), "duration": duration,
        "durations": durations or [duration], "resolution": resolution, "resolutions": resolutions or [resolution],
        "aspect_ratios": ratios or ["16:9", "9:16", "1:1"], "default_aspect_ratio": (ratios or ["16:9"])[0],
        "head_image": head, "tail_image": tail, "params": params or [], "mapping_note": note,
        "lifecycle": lifecycle, "lifecycle_note": lifecycle_note,
    }


_SORA_NOTE = "OpenAI shut the Sora 2 Videos API down on 2026-09-24; kept for compatible endpoints."
_VEO_NOTE = "Gemini API Veo previews shut down on 2026-10-22; point VEO_BASE_URL at a compatible endpoint."

CATALOG: list[dict[str, Any]] = [
    # MiniMax Hailuo
    _m("minimax-hailuo-02-6s-768p-t2v", "minimax", "Hailuo 02 · 768p", "t2v", "MiniMax-Hailuo-02",
       credits="48.00", duration=6, durations=[6, 10], resolution="768p", params=["promptOptimizer"]),
    _m("minimax-hailuo-2.3-6s-768p-t2v", "minimax", "Hailuo 2.3 · 768p", "t2v", "MiniMax-Hailuo-2.3",
       credits="56.00", duration=6, durations=[6, 10], resolution="768p", resolutions=["768p", "1080p"],
       params=["promptOptimizer"]),
    _m("minimax-hailuo-2.3-fast-6s-768p-t2v", "minimax", "Hailuo 2.3 Fast · 768p", "t2v",
       "MiniMax-Hailuo-2.3-Fast", credits="40.00", duration=6, durations=[6, 10], resolution="768p",
       head="optional", params=["promptOptimizer"],
       note="2.3-Fast is image-to-video only at MiniMax: without an image the call goes to MiniMax-Hailuo-2.3."),
    _m("minimax-hailuo-02-6s-768p-i2v", "minimax", "Hailuo 02 · 768p I2V", "i2v", "MiniMax-Hailuo-02",
       credits="48.00", duration=6, durations=[6, 10], resolution="768p", resolutions=["768p", "1080p"],
       head="required", tail="optional", params=["promptOptimizer"]),
    _m("minimax-hailuo-02-6s-480p-i2v", "minimax", "Hailuo 02 · 480p I2V", "i2v", "MiniMax-Hailuo-02",
       credits="30.00", duration=6, durations=[6, 10], resolution="480p", head="required",
       params=["promptOptimizer"], note="MiniMax has no 480P: the call uses its nearest, 512P."),
    # Alibaba WAN
    _m("wan-wan2.2-i2v-flash-5s-480p", "wan", "Wan 2.2 I2V Flash · 480p", "i2v", "wan2.2-i2v-flash",
       credits="25.00", duration=5, resolution="480p", head="required", ratios=ALL_RATIOS[:5]),
    _m("wan-wan2.2-i2v-flash", "wan", "Wan 2.2 I2V Flash", "i2v", "wan2.2-i2v-flash",
       credits="25.00", duration=5, resolution="480p", resolutions=["480p", "720p"], head="required",
       ratios=ALL_RATIOS[:5]),
    _m("wan-wan2.1-kf2v-plus-5s-480p", "wan", "Wan 2.1 KF2V Plus · 480p", "kf2v", "wan2.2-kf2v-flash",
       credits="30.00", duration=5, resolution="480p", head="required", tail="required", ratios=ALL_RATIOS[:5],
       note="wan2.1-kf2v-plus is 720P only; 480P keyframe videos are made by wan2.2-kf2v-flash."),
    _m("wan-v2-5-preview", "wan", "Wan 2.5 Preview", "t2v", "wan2.5-t2v-preview", credits="60.00", duration=5,
       durations=[5, 10], resolution="1080p", resolutions=["480p", "720p", "1080p"], ratios=ALL_RATIOS[:5],
       head="optional", params=["wanAudio"],
       note="With an image the call goes to wan2.5-i2v-preview."),
    # Luma
    _m("luma-ray-2.0", "luma", "Ray 2", "t2v", "ray-2", credits="45.00", duration=5, durations=[5, 9],
       resolution="720p", resolutions=["540p", "720p", "1080p", "4k"], ratios=ALL_RATIOS, head="optional",
       tail="optional"),
    _m("luma-ray-2.0-flash", "luma", "Ray 2 Flash", "t2v", "ray-flash-2", credits="20.00", duration=5,
       durations=[5, 9], resolution="720p", resolutions=["540p", "720p", "1080p"], ratios=ALL_RATIOS,
       head="optional", tail="optional"),
    _m("luma-ray-2.0-flash-5s-t2v", "luma", "Ray 2 Flash · 5s", "t2v", "ray-flash-2", credits="20.00",
       duration=5, resolution="720p", ratios=ALL_RATIOS),
    _m("luma-ray-2.0-i2v-5s", "luma", "Ray 2 I2V · 5s", "i2v", "ray-2", credits="45.00", duration=5,
       resolution="720p", ratios=ALL_RATIOS, head="required", tail="optional"),
    # Runway
    _m("runway-gen-4-turbo", "runway", "Gen-4 Turbo", "i2v", "gen4_turbo", credits="25.00", duration=5,
       durations=[5, 10], resolution="720p", ratios=["16:9", "9:16", "1:1", "4:3", "3:4", "21:9"],
       head="required", note="Runway gen4_turbo takes an image always (no text-only generation)."),
    _m("runway-gen-4.5", "runway", "Gen-4.5", "t2v", "gen4.5", credits="60.00", duration=5, durations=[5, 10],
       resolution="720p", ratios=["16:9", "9:16"], head="optional",
       note="Runway gen4.5 makes text-only videos at 1280:720 or 720:1280."),
    _m("runway-veo-3.1", "runway", "Veo 3.1 (Runway)", "t2v", "veo3.1", credits="320.00", duration=8,
       durations=[4, 6, 8], resolution="720p", resolutions=["720p", "1080p"], ratios=["16:9", "9:16"],
       head="optional", tail="optional",
       note="Google Veo 3.1 through Runway: 1280:720, 720:1280, 1920:1080 or 1080:1920; 4, 6 or 8 s."),
    # OpenAI Sora
    _m("sora-2-pro", "sora", "Sora 2 Pro", "t2v", "sora-2-pro", credits="120.00", duration=4, durations=[4, 8, 12],
       resolution="720p", ratios=["16:9", "9:16"], head="optional", lifecycle="shut_down",
       lifecycle_note=_SORA_NOTE),
    # OpenAI's own id (/v1/videos): any of Sora 2's lengths, where the spec's id above fixes 4 s.
    _m("sora-2", "sora", "Sora 2 · 4-12s", "t2v", "sora-2", credits="40.00", duration=4, durations=[4, 8, 12],
       resolution="720p", ratios=["16:9", "9:16"], head="optional", lifecycle="shut_down",
       lifecycle_note=_SORA_NOTE),
    _m("sora-2-4s-720p-t2v", "sora", "Sora 2", "t2v", "sora-2", credits="40.00", duration=4, durations=[4, 8, 12],
       resolution="720p", ratios=["16:9", "9:16"], head="optional", lifecycle="shut_down",
       lifecycle_note=_SORA_NOTE),
    # Kling
    _m("kling-v2-5-turbo-5s-1080p-t2v", "kling", "Kling 2.5 Turbo · 1080p", "t2v", "kling-v2-5-turbo",
       credits="35.00", duration=5, durations=[5, 10], resolution="1080p", head="optional",
       note="Kling v2 models have no cfg_scale: strength is for Kling 1.x."),
    _m("kling-v2-1-master-5s-1080p-i2v", "kling", "Kling 2.1 Master I2V", "i2v", "kling-v2-1-master",
       credits="140.00", duration=5, durations=[5, 10], resolution="1080p", head="required",
       note="Kling's v2.1 models take no end frame (image_tail)."),
    _m("kling-v1-6-std-5s-720p-t2v", "kling", "Kling 1.6 Standard · 720p", "t2v", "kling-v1-6",
       credits="28.00", duration=5, durations=[5, 10], resolution="720p", head="optional", params=["strength"]),
    # Google Veo
    _m("veo-3.1-fast-8s-720p-t2v", "veo", "Veo 3.1 Fast · 720p", "t2v", "veo-3.1-fast-generate-preview",
       credits="80.00", duration=8, durations=[4, 6, 8], resolution="720p", resolutions=["720p", "1080p"],
       ratios=["16:9", "9:16"], head="optional", tail="optional", params=["generateAudio"],
       lifecycle="shut_down", lifecycle_note=_VEO_NOTE),
    _m("veo-3.1-8s-1080p-t2v", "veo", "Veo 3.1 · 1080p", "t2v", "veo-3.1-generate-preview", credits="320.00",
       duration=8, resolution="1080p", resolutions=["720p", "1080p"], ratios=["16:9", "9:16"], head="optional",
       tail="optional", params=["generateAudio"], lifecycle="shut_down", lifecycle_note=_VEO_NOTE),
    # Pika (through fal.ai)
    _m("pika-v2.2-5s-720p-t2v", "pika", "Pika 2.2 · 720p", "t2v", "fal-ai/pika/v2.2/text-to-video",
       credits="20.00", duration=5, durations=[5, 10], resolution="720p", resolutions=["720p", "1080p"]),
    _m("pika-v2.2-5s-720p-i2v", "pika", "Pika 2.2 I2V · 720p", "i2v", "fal-ai/pika/v2.2/image-to-video",
       credits="20.00", duration=5, durations=[5, 10], resolution="720p", resolutions=["720p", "1080p"],
       head="required"),
    _m("pika-v2.2-5s-720p-kf2v", "pika", "Pikaframes 2.2 · 720p", "kf2v", "fal-ai/pika/v2.2/pikaframes",
       credits="20.00", duration=5, durations=[5, 10], resolution="720p", resolutions=["720p", "1080p"],
       head="required", tail="required"),
]

# Every model also accepts these (DESIGN §2); `params` above lists the provider-specific extras.
COMMON_PARAMS = ["duration", "aspect_ratio", "resolution", "width", "height", "frame_rate", "strategy", "seed"]


def catalog_sync(model_cls: Any, using: str = "default") -> tuple[int, int]:
    """Upsert CATALOG into `model_cls` (the live VideoModel or a migration state's historical one);
    returns (created, updated).

    New models are inserted with the shipped price; known ones get their technical fields refreshed while
    `credits` and `enabled` (the operator's) are kept. Fields the table does not have yet (an older schema
    state) are skipped, so a catalog entry with a new field never breaks migrating an old database.
    """
    columns = {f.name for f in model_cls._meta.concrete_fields}
    created = updated = 0
    for order, entry in enumerate(CATALOG):
        technical = {k: v for k, v in entry.items()
                     if k not in OPERATOR_FIELDS and k != "model_id" and k in columns}
        if "sort_order" in columns:
            technical["sort_order"] = order
        obj, was_created = model_cls._default_manager.using(using).get_or_create(
            model_id=entry["model_id"], defaults={**technical, "credits": entry["credits"]}
        )
        if was_created:
            created += 1
            continue
        changed = [field for field, value in technical.items() if getattr(obj, field) != value]
        if changed:
            for field in changed:
                setattr(obj, field, technical[field])
            obj.save(update_fields=changed, using=using)
            updated += 1
    return created, updated
