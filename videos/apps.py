from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class VideosConfig(AppConfig):
    name = "videos"
    verbose_name = "Video generation"

    def ready(self) -> None:
        post_migrate.connect(_sync_catalog_after_migrate, sender=self, dispatch_uid="videos.sync_catalog")
        from videos import pollerd  # noqa: F401 - a vendor poller beside each Celery worker (its signals)


def _sync_catalog_after_migrate(sender: AppConfig, *, using: str, verbosity: int = 1, apps: Any = None,
                                **kwargs: Any) -> None:
    """Every `migrate` (a fresh database, an upgrade, a test database) brings the catalog up to date."""
    from django.apps import apps as global_apps

    from videos.management.commands.sync_catalog import sync

    apps = apps or global_apps  # `flush` (tests) sends no migration state: the schema is the current one

    try:
        model = apps.get_model("videos", "VideoModel")  # the migrated state's model, not the live one
    except LookupError:
        return  # migrated to before the catalog table existed
    sync(model, using=using, verbosity=verbosity, write=print)
