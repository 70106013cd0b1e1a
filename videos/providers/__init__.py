"""Provider registry: which class serves a vendor, and whether a model runs live, simulated or not at all."""

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from videos.providers.base import Provider

DEFAULT_PROVIDERS = {
    "local": "videos.providers.local.LocalProvider",
    "minimax": "videos.providers.minimax.MiniMaxProvider",
    "luma": "videos.providers.luma.LumaProvider",
    "runway": "videos.providers.runway.RunwayProvider",
    "kling": "videos.providers.kling.KlingProvider",
    "veo": "videos.providers.veo.VeoProvider",
    "sora": "videos.providers.sora.SoraProvider",
    "wan": "videos.providers.wan.WanProvider",
    "pika": "videos.providers.pika.PikaProvider",
}

LIVE, SIMULATED, UNAVAILABLE = "live", "simulated", "unavailable"


def _registry() -> dict[str, str]:
    return {**DEFAULT_PROVIDERS, **getattr(settings, "PROVIDERS", {})}


@cache
def _provider_class(path: str) -> type[Provider]:
    return import_string(path)


def get_provider(name: str) -> Provider:
    """A fresh provider instance (reads settings now, so tests can change them)."""
    return _provider_class(_registry()[name])()


def availability(vendor: str) -> str:
    """live: the vendor's credentials are set; simulated: the local renderer stands in; else unavailable."""
    if vendor == "local":
        return LIVE
    try:
        configured = get_provider(vendor).is_configured()
    except (ImportError, KeyError):
        configured = False
    if configured:
        return LIVE
    return SIMULATED if settings.SIMULATE_MISSING_PROVIDERS else UNAVAILABLE
