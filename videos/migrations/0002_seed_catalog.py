"""Formerly seeded the catalog by importing live code, which broke as soon as the model gained a field.

The catalog is now written by `manage.py sync_catalog`, which runs after every `migrate` (a post_migrate
signal, see videos/apps.py): new databases and upgraded ones get the same, current catalog. Kept as a no-op so
existing migration histories stay valid.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("videos", "0001_initial")]

    operations: list[migrations.operations.base.Operation] = []
