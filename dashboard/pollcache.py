"""The poll cache's Django side: which answers may be replayed, and the generations that invalidate them.

dashboard.fastpoll (an ASGI layer in front of the site) answers repeated session and video polls from Redis
without Django or PostgreSQL. This module holds what both sides share and what the Django side does:

Generations. Each entry depends on three Redis keys, each holding a random token:
- `k:<digest>`: the API key (its SHA-256, as ApiKey.digest stores it), valued "<account id>:<random>";
- `a:<account id>`: the account's generation;
- `g`: the global generation (the catalog, which every answer names).
A writer invalidates by *deleting* the key, after its transaction commits (`accounts_changed`,
`key_changed`, `catalog_changed`); the next miss creates it again with a new random token, so a token is
never reused and a key lost to eviction or expiry invalidates as surely as a write does. An entry is served
only while all three keys hold the tokens read before Django answered it.

Ordering (why an entry is never stale): the ASGI layer reads the three tokens *before* handing the request
to Django, so before any database read of that request (the key's, the version's, the body's). Take a
writer W that commits at tc and deletes a token at td > tc, and an entry E stored with tokens read at t0:
- td < t0: E's reads start after t0 > tc, so they see W (each query of an autocommit request reads what
  was committed when it started);
- td > t0: from td on, the token E holds is gone, and E is never served again.
Between tc and td (the on_commit callback's microseconds) a fast answer may show the state just before W:
what a poll racing the commit gets from Django too. A deletion lost to Redis being unreachable at that
moment is the one way an entry outlives a change: entries live at most FASTPOLL_TTL seconds (default 60).
A writer waits 1 s at most for that deletion (the long-polls' publish waits as long); web and workers must
share FASTPOLL_REDIS_URL, since the workers' writes (charges, refunds) invalidate too. The admin, the shell
and any other writer reach these receivers through the models' post_save / post_delete; a bulk `update()`
or `bulk_create` sends no signal, so each one of those that may touch a settled answer's rows calls
`accounts_changed` itself (billing.services.credits_charge_many, api_key_revoke); the lifecycle's, the
poller's and the scheduler's bulk writes touch unfinished videos and running sessions only.

What is cached: only *settled* answers (`mark(settled=True)`): the session is final and so is every video
on the page (or the video is final). A final video or session never moves again (videos.lifecycle moves
only from active stages; the scheduler and the stop act on running sessions), so what can still change
such an answer is: the balance (`remaining_credits`) and credits (every ledger row: billing.services),
the key (revoked, deleted, its user deactivated), deletions (a session, a video), an operator's edits in
the admin (post_save / post_delete of every model an answer reads: the catch-all receivers below), the
catalog (a model renamed), and time: signed file links (the entry ends before the hour its links'
expiry is rounded to moves, as the ETag does, and within FASTPOLL_TTL whatever the storage). Answers of
unfinished work carry `eta_seconds`, queue positions (moved by other accounts' videos) and a counting-down
Retry-After: they are never cached, and always answered by Django.
"""

from __future__ import annotations

import logging
import time
from functools import cache
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse

from dashboard import conditional

log = logging.getLogger(__name__)

SLOT = "fastpoll"  # the ASGI scope's key for what Django tells the layer (request.META["asgi.scope"][SLOT])
_MARK = "_fastpoll_mark"
GEN_TTL = 7 * 24 * 3600  # a generation key lives a week at most: its loss only costs a miss


def prefix() -> str:
    """Every key of the cache: per install (FASTPOLL_PREFIX) and per answer schema (a deploy that changes an
    answer bumps conditional.SCHEMA: the entries of the former shape are never read again)."""
    return f"{settings.FASTPOLL_PREFIX}:{conditional.SCHEMA}:"


def key_token_key(digest: str) -> str:
    return f"{prefix()}k:{digest}"


def account_key(account_id: int | str) -> str:
    return f"{prefix()}a:{account_id}"


def global_key() -> str:
    return f"{prefix()}g"


def entry_ttl(now: float | None = None) -> int:
    """Seconds an entry made now may live: FASTPOLL_TTL, and never past the moment links signed now would get
    another expiry (videos.files.url_expiry: rounded up to the hour), when the ETag changes too."""
    now = time.time() if now is None else now
    until_new_links = 3600 - int(now + settings.FILE_URL_TTL) % 3600
    return min(settings.FASTPOLL_TTL, until_new_links - 1)


@cache
def _client() -> Any:
    import redis

    return redis.Redis.from_url(settings.FASTPOLL_REDIS_URL, socket_timeout=1, socket_connect_timeout=1)


def enabled() -> bool:
    return bool(settings.FASTPOLL_REDIS_URL)


def _delete(keys: list[str]) -> None:
    try:
        _client().delete(*keys)
    except Exception as e:  # noqa: BLE001 - Redis down: entries unreachable too; FASTPOLL_TTL bounds the rest
        log.warning("fastpoll.invalidate_failed", extra={"error": type(e).__name__})


class Flush:
    """The one on_commit callback of a transaction: the keys its writes invalidate, deleted in one command."""

    def __init__(self) -> None:
        self.keys: set[str] = set()

    def __call__(self) -> None:
        _delete(sorted(self.keys))


def _after_commit(keys: list[str]) -> None:
    """Delete `keys` once the current transaction commits (at once outside one): one callback per transaction,
    however many rows it writes. A callback a rolled-back savepoint dropped is not found any more: a new one is
    registered for what follows."""
    if not enabled() or not keys:
        return
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        _delete(keys)
        return
    for _, callback, _ in connection.run_on_commit:
        if isinstance(callback, Flush):
            callback.keys.update(keys)
            return
    flush = Flush()
    flush.keys.update(keys)
    transaction.on_commit(flush)


def accounts_changed(account_ids: Any) -> None:
    """Something these users' answers show changed (in the current transaction): drop their entries once it
    commits (at once outside a transaction)."""
    _after_commit([account_key(pk) for pk in sorted({int(pk) for pk in account_ids if pk is not None})])


def key_changed(*, digest: str, account_id: int) -> None:
    """A key revoked, deleted or edited: its entries and its account's go once the change commits."""
    _after_commit([key_token_key(digest), account_key(account_id)])


def catalog_changed() -> None:
    _after_commit([global_key()])


def mark(request: HttpRequest, *, account_id: int, settled: bool) -> None:
    """A poll view says whose answer this is, and whether it is settled (may be replayed: see above)."""
    setattr(request, _MARK, (account_id, settled))


def note(request: HttpRequest, response: HttpResponse) -> None:
    """Tell the ASGI layer (when there is one: its slot in the scope) that this answer may be stored."""
    scope = request.META.get("asgi.scope")
    marked = getattr(request, _MARK, None)
    if scope is None or marked is None or SLOT not in scope or response.status_code not in (200, 304):
        return
    from dashboard.metrics import route_of

    account_id, settled = marked
    scope[SLOT].update(account=account_id, settled=settled, route=route_of(request))


# --- The catch-all: any model save or delete an answer reads (the admin, the shell, cascades) ----------

def _owner_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    accounts_changed([getattr(instance, "owner_id", None)])


def _user_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    accounts_changed([instance.pk])


def _account_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    accounts_changed([instance.user_id])


def _entry_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    accounts_changed([instance.account.user_id])


def _key_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    key_changed(digest=instance.digest, account_id=instance.owner_id)


def _catalog_changed(sender: Any, **kwargs: Any) -> None:
    catalog_changed()


def connect() -> None:
    """Connected by DashboardConfig.ready."""
    from django.contrib.auth import get_user_model
    from django.db.models.signals import post_delete, post_save

    from billing.models import ApiKey, CreditAccount, CreditEntry
    from videos.models import GenerationSession, Video, VideoModel

    receivers = ((Video, _owner_changed), (GenerationSession, _owner_changed), (get_user_model(), _user_changed),
                 (CreditAccount, _account_changed), (CreditEntry, _entry_changed), (ApiKey, _key_changed),
                 (VideoModel, _catalog_changed))
    for model, receiver in receivers:
        for signal in (post_save, post_delete):
            signal.connect(receiver, sender=model, weak=False,
                           dispatch_uid=f"fastpoll.{signal is post_save}.{model._meta.label}")
