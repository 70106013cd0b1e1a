"""Writes for keys and credits. Every balance change goes through `_post` (or, for a batch of charges,
`credits_charge_many`), under a row lock."""

import hmac
import secrets
from datetime import UTC, datetime, timedelta
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser, User
from django.db import connection, transaction
from django.utils import timezone

from billing.exceptions import InsufficientCredits
from dashboard import pollcache
from dashboard.db import rows_update
from billing.models import ApiKey, CreditAccount, CreditEntry, RateCounter

KEY_PREFIX = "mcp_"


def api_key_issue(*, user: AbstractBaseUser, name: str = "") -> tuple[ApiKey, str]:
    """Create a key; returns (row, raw key). The raw key exists only in this return value."""
    while True:
        raw = KEY_PREFIX + secrets.token_urlsafe(32).replace("-", "x").replace("_", "y")
        prefix = raw[:12]
        if not ApiKey.objects.filter(prefix=prefix).exists():
            break
    key = ApiKey.objects.create(owner=user, name=name[:100], prefix=prefix, digest=ApiKey.digest_of(raw))
    return key, raw


def api_key_revoke(*, key: ApiKey) -> None:
    """Revocation is immediate: the next request with this key is a 401. Idempotent."""
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    pollcache.key_changed(digest=key.digest, account_id=key.owner_id)  # the poll cache forgets it on commit


_KEY_COLUMNS = ("id", "owner_id", "prefix", "digest", "last_used_at", "revoked_at")
_KEY_SQL = (f"SELECT {', '.join('k.' + c for c in _KEY_COLUMNS)} FROM {ApiKey._meta.db_table} k "
            f"JOIN {User._meta.db_table} u ON u.id = k.owner_id "
            f"WHERE k.prefix = %s AND k.revoked_at IS NULL AND u.is_active")
LAST_USED_EVERY = 60  # seconds: last_used_at is written at most this often per key


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The active key for `raw`, or None. Looks up by prefix, compares digests in constant time.

    Every API request passes here, so it is one narrow query (SQL written out: nothing to compile), and no
    write unless last_used_at is over LAST_USED_EVERY seconds old. `key.owner` is the user with only its id
    and is_active read (any other field loads on first use)."""
    if not raw or not raw.startswith(KEY_PREFIX) or len(raw) > 200:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_KEY_SQL, [raw[:12]])
        row = cursor.fetchone()
    if row is None:
        return None
    key = ApiKey.from_db(connection.alias, _KEY_COLUMNS, row)
    if not hmac.compare_digest(key.digest, ApiKey.digest_of(raw)):
        return None
    key._state.fields_cache["owner"] = User.from_db(connection.alias, ("id", "is_active"), (key.owner_id, True))
    if key.last_used_at is not None and isinstance(key.last_used_at, str):  # SQLite's raw cursor: text
        key.last_used_at = ApiKey._meta.get_field("last_used_at").to_python(key.last_used_at)
    now = timezone.now()
    if key.last_used_at is None or (now - _aware(key.last_used_at)).total_seconds() > LAST_USED_EVERY:
        # Conditional, so concurrent requests of the same key write it once a minute between them.
        ApiKey.objects.filter(pk=key.pk).exclude(last_used_at__gte=now - timedelta(seconds=LAST_USED_EVERY)).update(
            last_used_at=now)
    return key


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def credit_account_for(user: AbstractBaseUser) -> CreditAccount:
    account, _ = CreditAccount.objects.get_or_create(user=user)
    return account


def _post(
    *, user: AbstractBaseUser, kind: str, delta: Decimal, key: str, **fields: str
) -> tuple[CreditEntry, bool]:
    """Append one ledger row and move the balance with it. Returns (entry, created).

    Calling again with the same `key` returns the first entry and changes nothing. The account row is
    locked (SELECT … FOR UPDATE) so concurrent charges are serialised and can never overspend.
    """
    credit_account_for(user)
    with transaction.atomic():
        account = CreditAccount.objects.select_for_update().get(user=user)
        if entry := CreditEntry.objects.filter(key=key).first():
            return entry, False
        new_balance = account.balance + delta
        if new_balance < 0:
            raise InsufficientCredits(required=-delta, available=account.balance)
        account.balance = new_balance
        account.save(update_fields=["balance", "updated_at"])  # its post_save drops the user's cached polls
        entry = CreditEntry.objects.create(
            account=account, kind=kind, delta=delta, balance_after=new_balance, key=key, **fields
        )
        return entry, True


def credits_grant(*, user: AbstractBaseUser, amount: Decimal, key: str, note: str = "", by: str = "") -> CreditEntry:
    if amount <= 0:
        raise ValueError("a grant must be positive")
    return _post(user=user, kind=CreditEntry.Kind.GRANT, delta=Decimal(amount), key=key, note=note, created_by=by)[0]


def credits_charge(
    *, user: AbstractBaseUser, amount: Decimal, key: str, video_id: str = "", session_id: str = "", note: str = ""
) -> CreditEntry:
    """Debit `amount`. Raises InsufficientCredits (nothing written) when the balance is short."""
    return _post(
        user=user, kind=CreditEntry.Kind.CHARGE, delta=-Decimal(amount), key=key,
        video_id=video_id, session_id=session_id, note=note,
    )[0]


@dataclass(frozen=True)
class Charge:
    """One debit of a batch (credits_charge_many): the same fields as credits_charge."""

    user_id: int
    amount: Decimal
    key: str
    video_id: str = ""
    session_id: str = ""
    note: str = ""


def credits_charge_many(charges: Sequence[Charge]) -> list[CreditEntry | InsufficientCredits]:
    """Debit each of `charges`, in order, as one step: the result at the same index is its ledger row, or the
    InsufficientCredits it met (that charge wrote nothing; later ones of the same account may still pass).

    The same rules as credits_charge: a key already in the ledger returns its row and charges nothing again; the
    accounts are locked (SELECT … FOR UPDATE, in primary-key order, so two batches sharing accounts queue instead
    of deadlocking) until the caller's transaction ends; the balance never goes below zero. The rows are written
    with one INSERT and the balances with one UPDATE, whatever the batch size.
    """
    results: list[CreditEntry | InsufficientCredits] = []
    if not charges:
        return results
    with transaction.atomic(savepoint=False):  # nothing is written before the checks: no savepoint needed
        accounts = {a.user_id: a for a in CreditAccount.objects.select_for_update().filter(
            user_id__in={c.user_id for c in charges}).order_by("pk")}
        existing = {e.key: e for e in CreditEntry.objects.filter(key__in=[c.key for c in charges])}
        new: list[CreditEntry] = []
        moved: dict[int, CreditAccount] = {}
        for charge in charges:
            if charge.key in existing:
                results.append(existing[charge.key])
                continue
            account = accounts.get(charge.user_id)
            balance = account.balance if account is not None else Decimal(0)
            if account is None or balance < charge.amount:
                results.append(InsufficientCredits(required=Decimal(charge.amount), available=balance))
                continue
            account.balance = balance - Decimal(charge.amount)
            moved[account.pk] = account
            entry = CreditEntry(account=account, kind=CreditEntry.Kind.CHARGE, delta=-Decimal(charge.amount),
                                balance_after=account.balance, key=charge.key, video_id=charge.video_id,
                                session_id=charge.session_id, note=charge.note)
            existing[charge.key] = entry  # the same key twice in one batch: charged once
            new.append(entry)
            results.append(entry)
        CreditEntry.objects.bulk_create(new)
        now = timezone.now()
        for account in moved.values():
            account.updated_at = now
        rows_update(CreditAccount, ["balance", "updated_at"], list(moved.values()))
        pollcache.accounts_changed(a.user_id for a in moved.values())  # no signal from rows_update
    return results


def credits_refund(
    *, user: AbstractBaseUser, amount: Decimal, key: str, video_id: str = "", session_id: str = "", note: str = ""
) -> tuple[CreditEntry, bool]:
    """Credit back `amount` once per `key`; returns (entry, created)."""
    return _post(
        user=user, kind=CreditEntry.Kind.REFUND, delta=Decimal(amount), key=key,
        video_id=video_id, session_id=session_id, note=note,
    )


def credit_balance(*, user: AbstractBaseUser) -> Decimal:
    return CreditAccount.objects.filter(user=user).values_list("balance", flat=True).first() or Decimal(0)


def rate_hit(*, key: ApiKey, minute: int) -> int:
    """Count one request of `key` in `minute` and return the count so far, in one atomic statement.

    INSERT … ON CONFLICT DO UPDATE … RETURNING is a single row-locked upsert on PostgreSQL and SQLite (3.35+):
    concurrent callers each get a distinct count, so exactly `limit` of them see a count <= limit.
    """
    table = connection.ops.quote_name(RateCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (api_key_id, minute, hits) VALUES (%s, %s, 1) "
            f"ON CONFLICT (api_key_id, minute) DO UPDATE SET hits = {table}.hits + 1 RETURNING hits",
            [key.pk, minute],
        )
        hits = int(cursor.fetchone()[0])
    if hits == 1:  # the first request of a new minute sweeps this key's old ones
        RateCounter.objects.filter(api_key=key, minute__lt=minute - 1).delete()
    return hits
