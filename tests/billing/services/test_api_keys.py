import pytest

from billing import services
from billing.models import ApiKey
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_a_key_is_shown_once_and_stored_only_as_prefix_and_digest() -> None:
    user = make_user("carol")
    key, raw = services.api_key_issue(user=user, name="laptop")
    assert raw.startswith("mcp_") and len(raw) > 40
    stored = ApiKey.objects.get(pk=key.pk)
    assert stored.prefix == raw[:12]
    assert raw not in (stored.prefix, stored.digest, stored.name)
    assert services.api_key_authenticate(raw) == stored


def test_a_wrong_or_revoked_key_authenticates_nobody() -> None:
    user = make_user("carol")
    key, raw = services.api_key_issue(user=user)
    assert services.api_key_authenticate(raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None
    assert services.api_key_authenticate("not-a-key") is None
    services.api_key_revoke(key=key)
    assert services.api_key_authenticate(raw) is None
