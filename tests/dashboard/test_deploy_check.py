"""`manage.py check --deploy` is clean with the production environment documented in .env.example."""

import pytest
from django.core.management import call_command


def test_check_deploy_is_clean_with_production_settings(settings, monkeypatch):
    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)  # set by the browser tests' fixture only
    settings.DEBUG = False
    settings.SECRET_KEY = "k" * 20 + "-production-secret-with-enough-entropy-0123456789"
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = settings.SECURE_HSTS_PRELOAD = True
    call_command("check", "--deploy", "--fail-level", "WARNING")  # raises SystemCheckError on any warning


@pytest.mark.parametrize("setting", ["SECURE_CONTENT_TYPE_NOSNIFF", "SESSION_COOKIE_HTTPONLY"])
def test_safe_defaults_hold(settings, setting):
    assert getattr(settings, setting) is True
    assert settings.X_FRAME_OPTIONS == "DENY"
