"""Catalog upgrades: `sync_catalog` runs after every `migrate`, adds new models, refreshes technical fields
and keeps what the operator owns (price, enabled). Proven by migrating an old database forward."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from videos import catalog
from videos.models import VideoModel

OLD = [("videos", "0002_seed_catalog")]


@pytest.mark.django_db(transaction=True)
def test_an_old_database_migrated_forward_gets_new_models_and_keeps_operator_prices() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(OLD)  # back to the schema of an early release
    OldModel = executor.loader.project_state(OLD).apps.get_model("videos", "VideoModel")
    OldModel.objects.all().delete()
    shipped = next(e for e in catalog.CATALOG if e["model_id"] == "luma-ray-2.0")
    columns = {f.name for f in OldModel._meta.concrete_fields}
    fields = {k: v for k, v in shipped.items() if k in columns}  # what the old release's table had
    # The old release's catalog: one model, its name since changed upstream; the operator repriced and disabled it.
    OldModel.objects.create(**{**fields, "display_name": "Ray 2 (old name)", "credits": Decimal("99.50"),
                               "enabled": False})

    call_command("migrate", verbosity=0)  # what an upgrade runs

    assert set(VideoModel.objects.values_list("model_id", flat=True)) == {e["model_id"] for e in catalog.CATALOG}
    kept = VideoModel.objects.get(model_id="luma-ray-2.0")
    assert (kept.credits, kept.enabled) == (Decimal("99.50"), False)  # the operator's
    assert kept.display_name == shipped["display_name"]  # technical fields follow the release
    fresh = VideoModel.objects.get(model_id="minimax-hailuo-02-6s-768p-t2v")
    assert fresh.enabled and fresh.credits == next(
        e["credits"] for e in catalog.CATALOG if e["model_id"] == "minimax-hailuo-02-6s-768p-t2v")


@pytest.mark.django_db
def test_sync_catalog_command_keeps_prices_and_restores_technical_fields(capsys) -> None:
    model = VideoModel.objects.get(model_id="luma-ray-2.0-flash")
    VideoModel.objects.filter(pk=model.pk).update(credits=Decimal("7.00"), enabled=False, resolution="1p",
                                                  durations=[1])
    call_command("sync_catalog")
    model.refresh_from_db()
    assert (model.credits, model.enabled) == (Decimal("7.00"), False)
    assert model.resolution == "720p" and model.durations == [5, 9]
    assert "1 updated" in capsys.readouterr().out
    call_command("sync_catalog")
    assert "up to date" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_a_catalog_field_the_old_schema_lacks_is_skipped(monkeypatch) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(OLD)
    OldModel = executor.loader.project_state(OLD).apps.get_model("videos", "VideoModel")
    OldModel.objects.all().delete()
    monkeypatch.setattr(catalog, "CATALOG", [{**e, "a_field_from_the_future": 1} for e in catalog.CATALOG])
    created, updated = catalog.catalog_sync(OldModel)
    assert created == len(catalog.CATALOG) and OldModel.objects.count() == created
    call_command("migrate", verbosity=0)
