"""Provider registry: which class serves a vendor, and whether a model runs live, simulated or not at all."""

import threading
from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
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


# One provider per vendor per process: its HTTP session keeps its connections alive between polls.
# Keyed by what the instance read from settings at construction (class path and the vendor's
# PROVIDER_SETTINGS entry), so a changed setting, even one edited in place, gives a fresh instance.
_instances: dict[str, tuple[tuple[str, str], Provider]] = {}
_instances_lock = threading.Lock()


def _fingerprint(name: str, path: str) -> tuple[str, str]:
    return path, repr(getattr(settings, "PROVIDER_SETTINGS", {}).get(name))


def get_provider(name: str) -> Provider:
    """The process's provider for `name` (thread-safe; shared, so providers keep no per-call state).

    Built on first use and again whenever its settings change (tests override them)."""
    path = _registry()[name]
    key = _fingerprint(name, path)
    entry = _instances.get(name)
    if entry is not None and entry[0] == key:
        return entry[1]
    with _instances_lock:
        entry = _instances.get(name)
        if entry is None or entry[0] != key:
            entry = (key, _provider_class(path)())
            _instances[name] = entry
        return entry[1]


def forget_providers(**kwargs: object) -> None:
    """Drop every cached provider (on a settings change; the next get_provider builds afresh)."""
    if kwargs.get("setting") not in (None, "PROVIDERS", "PROVIDER_SETTINGS"):
        return
    with _instances_lock:
        _instances.clear()


setting_changed.connect(forget_providers, dispatch_uid="videos.providers.forget")


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
