from django.db import migrations


def seed(apps, schema_editor):
    from videos.catalog import catalog_sync

    catalog_sync(apps.get_model("videos", "VideoModel"))


class Migration(migrations.Migration):
    dependencies = [("videos", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
