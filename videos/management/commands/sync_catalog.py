"""`manage.py sync_catalog`: add the shipped catalog's new models and refresh technical fields of known ones,
keeping operator prices (`credits`) and `enabled` flags. Also runs after every `migrate`."""

from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand
from django.db import router

from videos.catalog import catalog_sync


def sync(model: Any, *, using: str = "default", verbosity: int = 1,
         write: Callable[[str], Any] = print) -> tuple[int, int]:
    """catalog_sync on `using`; says what changed (when anything did and verbosity allows)."""
    if not router.allow_migrate_model(using, model):
        return 0, 0
    created, updated = catalog_sync(model, using=using)
    if verbosity >= 1 and (created or updated):
        write(f"Catalog: {created} new model(s), {updated} updated (prices and enabled flags kept).")
    return created, updated


class Command(BaseCommand):
    help = "Add new catalog models and refresh technical fields; operator prices and enabled flags are kept."

    def handle(self, *args: Any, **options: Any) -> None:
        from videos.models import VideoModel

        created, updated = sync(VideoModel, verbosity=options["verbosity"], write=self.stdout.write)
        if not (created or updated) and options["verbosity"] >= 1:
            self.stdout.write(f"Catalog up to date ({VideoModel.objects.count()} models).")
