"""Push and pull rate limits per user and per (user, device), in a store every process shares.

DRF's ``SimpleRateThrottle`` reads, modifies and writes a history list, so concurrent
requests can all pass the last slot; and in its default local-memory cache each server
process keeps a count of its own, so N gunicorn workers allow N times the rate. These
throttles count in fixed windows with one atomic operation, in the store ``THROTTLE_STORE``
names:

- ``"database"`` (the default): one :class:`~django_mobile_sync.models.ThrottleCounter` row
  per counter, incremented by a single ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``
  (PostgreSQL and SQLite). Every process that shares the database shares the counters.
- ``"cache"``: ``cache.add`` + ``cache.incr`` in the cache ``THROTTLE_CACHE`` names, which
  must be shared by every process and increment atomically (Redis, Memcached).

No request reaches a sync view uncounted: the push throttles count ``POST``; the pull
throttles count every other method — ``GET``, ``HEAD`` (Django answers it by running the
whole pull), ``OPTIONS`` and the methods the views refuse with ``405``.

A request one throttle refuses is not counted by the throttles after it
(:func:`first_refusal`): a flood of pushes with invented device ids that the per-user
rate refuses adds no per-device counter, so the counters of a user in a window are at most
the user's rate plus one.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, router, transaction
from rest_framework.exceptions import APIException
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from .conf import DEFAULTS, THROTTLE_STORES, sync_settings
from .domains import SyncDomain
from .models import ThrottleCounter

__all__ = [
    "PullDeviceRateThrottle",
    "PullUserRateThrottle",
    "PushDeviceRateThrottle",
    "PushUserRateThrottle",
    "SyncRateThrottle",
    "first_refusal",
]

logger = logging.getLogger("django_mobile_sync")

_parse_rate = SimpleRateThrottle.parse_rate

#: The methods of a push; the pull throttles count every other one.
PUSH_METHODS = ("POST",)
#: Database vendors whose ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` the store uses.
DATABASE_STORE_VENDORS = ("postgresql", "sqlite")
#: A counter shared by every domain that has no rate of its own for it.
GLOBAL_SCOPE = "*"


class SyncRateThrottle(BaseThrottle):
    """Base class: ``rate_name`` picks the rate from the domain's or the global
    ``THROTTLE_RATES``; :meth:`get_ident` says whose counter a request increments.

    Attributes:
        rate_name: the key of ``THROTTLE_RATES`` (and of a domain's ``throttle_rates``).
        methods: the HTTP methods counted, ``HEAD`` counting as ``GET`` (Django answers a
            ``HEAD`` by running the ``GET`` handler); ``None`` counts every method that is
            not a push's, so that no request reaches a view uncounted.
    """

    rate_name = ""
    methods: tuple[str, ...] | None = PUSH_METHODS

    def __init__(self) -> None:
        self.wait_seconds: float | None = None

    def counts(self, request: Any) -> bool:
        """Whether ``request`` spends from this throttle's budget (see ``methods``)."""
        method = "GET" if request.method == "HEAD" else request.method
        if self.methods is None:
            return method not in PUSH_METHODS
        return method in self.methods

    def get_rate(self, view: Any) -> str | None:
        """The DRF rate string (``"100/hour"``) in force, or ``None`` for no limit."""
        domain = throttle_domain(view)
        domain_rates: Mapping[str, str | None] = (domain and domain.throttle_rates) or {}
        if self.rate_name in domain_rates:
            return domain_rates[self.rate_name]
        rates: dict[str, str | None] = {
            **DEFAULTS["THROTTLE_RATES"],
            **sync_settings.THROTTLE_RATES,
        }
        return rates.get(self.rate_name)

    def get_counter_scope(self, view: Any) -> str:
        """Which requests share a counter.

        Every domain that takes this rate from ``THROTTLE_RATES`` shares one counter per
        ident, so that spreading pushes over domains does not multiply a user's rate; a domain
        whose ``throttle_rates`` sets the rate counts on its own.
        """
        domain = throttle_domain(view)
        if domain is not None and self.rate_name in (domain.throttle_rates or {}):
            return f"domain:{domain.name}"
        return GLOBAL_SCOPE

    def get_ident(self, request: Any) -> str | None:  # type: ignore[override]
        raise NotImplementedError(".get_ident() must be overridden")

    def window(self, request: Any, view: Any) -> Window | None:
        """The counter ``request`` spends from, in the current window; ``None`` when this
        throttle does not limit it (another method, no rate, no ident)."""
        if not self.counts(request):
            return None
        rate = self.get_rate(view)
        ident = self.get_ident(request)
        if not rate or ident is None:
            return None
        limit, duration = _parse_rate(None, rate)  # type: ignore[arg-type]
        if limit is None or duration is None:
            return None
        now = time.time()
        identity = "\x00".join(
            (self.get_counter_scope(view), self.rate_name, str(duration), ident)
        )
        start = int(now // duration) * duration
        return Window(_key_part(identity), limit, start, duration, now)

    def allow_request(self, request: Any, view: Any) -> bool:
        window = self.window(request, view)
        if window is None:
            return True
        hits, expires_at = self.increment(window.key, window.start, window.duration)
        if hits <= window.limit:
            return True
        self.wait_seconds = max(expires_at - window.now, 1.0)
        return False

    def pending_wait(self, request: Any, view: Any) -> float | None:
        """How long until this throttle would let ``request`` through, without counting it:
        ``None`` when it would let it through now."""
        window = self.window(request, view)
        if window is None:
            return None
        hits, expires_at = self.current(window.key, window.start, window.duration)
        if hits < window.limit:
            return None
        return max(expires_at - window.now, 1.0)

    def increment(self, key: str, window_start: int, duration: int) -> tuple[int, int]:
        """Add a hit to the counter ``key`` in the window that began at ``window_start``
        (Unix seconds) and lasts ``duration`` seconds.

        Returns:
            The hits counted in the window, this one included, and when it ends (Unix
            seconds). Default: counts in the store ``THROTTLE_STORE`` names.
        """
        store = sync_settings.THROTTLE_STORE
        if store == "database":
            return count_in_database(key, window_start, duration)
        if store == "cache":
            return count_in_cache(key, window_start, duration)
        raise ImproperlyConfigured(
            f"MOBILE_SYNC['THROTTLE_STORE'] is {store!r}; use one of {', '.join(THROTTLE_STORES)}."
        )

    def current(self, key: str, window_start: int, duration: int) -> tuple[int, int]:
        """The hits counted so far in the window, and when it ends, without adding one.

        Override it with :meth:`increment` when counting elsewhere. Default: reads the
        store ``THROTTLE_STORE`` names.
        """
        if sync_settings.THROTTLE_STORE == "cache":
            return read_in_cache(key, window_start, duration)
        return read_in_database(key, window_start, duration)

    def wait(self) -> float | None:
        return self.wait_seconds


@dataclass(frozen=True)
class Window:
    """One counter of a throttle in the window ``now`` falls in."""

    key: str
    limit: int
    start: int
    duration: int
    now: float


@dataclass(frozen=True)
class Refusal:
    """A request a throttle refused: ``wait`` is the seconds for ``Retry-After`` (``None``
    when no throttle knows, as DRF allows)."""

    wait: float | None


def first_refusal(throttles: Iterable[BaseThrottle], request: Any, view: Any) -> Refusal | None:
    """Run ``throttles`` in order until one refuses ``request``; ``None`` if none does.

    Unlike DRF's ``APIView.check_throttles``, the throttles after the first that refuses do
    not count the request, so a refused push with an invented device id adds no counter.
    They are still asked how long they would refuse it (:meth:`SyncRateThrottle.pending_wait`)
    and the wait is the longest, as DRF's ``Retry-After`` is, so that a retry is not refused
    by a throttle the header left out. A throttle of another kind after the refusal is not
    consulted.

    On PostgreSQL, the database store counts them in one statement (:func:`count_chain`).
    """
    pending = list(throttles)
    waits: list[float | None] = []
    index = 0
    while index < len(pending):
        throttle = pending[index]
        if waits:
            waits.append(pending_wait(throttle, request, view))
            index += 1
            continue
        chain = chained(pending[index:])
        asked, refused = count_chain(chain, request, view) if len(chain) > 1 else (0, None)
        if not asked and not throttle.allow_request(request, view):
            refused = throttle
        if refused is not None:
            waits.append(refused.wait())
        index += asked or 1
    if not waits:
        return None
    return Refusal(max((wait for wait in waits if wait is not None), default=None))


def chained(throttles: Sequence[BaseThrottle]) -> list[SyncRateThrottle]:
    """The throttles at the head of ``throttles`` that count in one statement: this module's
    counting not overridden, the ``"database"`` store on PostgreSQL, outside a transaction."""
    if sync_settings.THROTTLE_STORE != "database":
        return []
    connection = connections[router.db_for_write(ThrottleCounter)]
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return []
    chain = []
    for throttle in throttles:
        if not isinstance(throttle, SyncRateThrottle):
            break
        kind = type(throttle)
        unchanged = kind.allow_request is SyncRateThrottle.allow_request
        if not (unchanged and kind.increment is SyncRateThrottle.increment):
            break
        chain.append(throttle)
    return chain


def count_chain(
    chain: Sequence[SyncRateThrottle], request: Any, view: Any
) -> tuple[int, BaseThrottle | None]:
    """Count ``request`` on ``chain`` in order until one refuses it: how many were asked,
    and the one that refused (its ``wait()`` set) or ``None``. A ``window`` that raises (a
    body it cannot read) raises once those before it are counted, unless one refused."""
    counting, failure = [], None
    for throttle in chain:
        try:
            window = throttle.window(request, view)
        except APIException as exc:
            failure = exc
            break
        if window is not None:
            counting.append((throttle, window))
    answers = count_chain_in_database(
        [(window.key, window.start, window.duration, window.limit) for _, window in counting]
    )
    for (throttle, window), answer in zip(counting, answers, strict=True):
        if answer is None:  # after a refusal, which returned
            break
        hits, expires_at = answer
        if hits > window.limit:
            throttle.wait_seconds = max(expires_at - window.now, 1.0)
            return chain.index(throttle) + 1, throttle
    if failure is not None:
        raise failure
    return len(chain), None


def pending_wait(throttle: BaseThrottle, request: Any, view: Any) -> float | None:
    """How long ``throttle`` would refuse ``request``, without counting it; ``None`` if it
    would not, or cannot tell (not a :class:`SyncRateThrottle`, or a body it cannot read
    for the device id: the refusal answers before the body's own error)."""
    if not isinstance(throttle, SyncRateThrottle):
        return None
    try:
        return throttle.pending_wait(request, view)
    except APIException:
        return None


def throttle_domain(view: Any) -> SyncDomain | None:
    """The domain whose ``throttle_rates`` apply to ``view`` (``None``: several domains).

    A view without ``throttle_domain()`` (a DRF view of your own) gives its ``get_domain()``.
    """
    pick = getattr(view, "throttle_domain", None) or view.get_domain
    domain: SyncDomain | None = pick()
    return domain


def count_in_cache(key: str, window_start: int, duration: int) -> tuple[int, int]:
    """One hit in the cache ``THROTTLE_CACHE``: ``add`` + ``incr`` (atomic in Redis)."""
    cache = caches[sync_settings.THROTTLE_CACHE]
    cache_key = f"mobile_sync:throttle:{key}:{window_start}"
    cache.add(cache_key, 0, timeout=duration + 1)
    try:
        hits = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 1, timeout=duration + 1)
        hits = 1
    return hits, window_start + duration


def read_in_cache(key: str, window_start: int, duration: int) -> tuple[int, int]:
    """The hits of ``key``'s window in the cache ``THROTTLE_CACHE``, without adding one."""
    cache = caches[sync_settings.THROTTLE_CACHE]
    hits = cache.get(f"mobile_sync:throttle:{key}:{window_start}", 0)
    return int(hits), window_start + duration


def read_in_database(key: str, window_start: int, duration: int) -> tuple[int, int]:
    """The hits of ``key``'s :class:`ThrottleCounter` row in the window that began at
    ``window_start`` or a newer one (see :func:`count_in_database`), without adding one."""
    using = router.db_for_write(ThrottleCounter)
    row = (
        ThrottleCounter.objects.using(using)
        .filter(key=key, window_start__gte=window_start)
        .values_list("hits", "expires_at")
        .first()
    )
    return (int(row[0]), int(row[1])) if row else (0, window_start + duration)


def count_in_database(key: str, window_start: int, duration: int) -> tuple[int, int]:
    """One hit on the counter's :class:`ThrottleCounter` row, in one atomic statement.

    The upsert inserts the row with one hit, or adds one in the same window, or starts
    again at one when a newer window has begun; a request of an older window (a clock a
    little behind) counts in the newer one rather than resetting it. The row lives on the
    database ``router.db_for_write(ThrottleCounter)`` picks.
    """
    using = router.db_for_write(ThrottleCounter)
    connection = connections[using]
    if connection.vendor not in DATABASE_STORE_VENDORS:
        raise ImproperlyConfigured(
            f"MOBILE_SYNC['THROTTLE_STORE'] = 'database' needs PostgreSQL or SQLite; the "
            f"database {using!r} is {connection.vendor}. Set THROTTLE_STORE to 'cache' "
            "with a Redis THROTTLE_CACHE."
        )
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        [answer] = count_chain_in_database([(key, window_start, duration, 0)])
        assert answer is not None  # the first counter always counts
        return answer
    with connection.cursor() as cursor:
        cursor.execute(_upsert_sql(connection), [key, window_start, window_start + duration])
        hits, expires_at = cursor.fetchone()
    if hits == 1:
        _purge_ended_windows(using, ended_by=window_start)
    return int(hits), int(expires_at)


#: The counters' statement, outside any transaction, commits without waiting for the disk:
#: the hit is visible to every request at once; a crash of the server may forget the hits of
#: its last 0.6 s (three ``wal_writer_delay``). Not inside a transaction: it would last until
#: that transaction's commit (docs/benchmarks.md).
NO_FLUSH = "WITH no_flush AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true))"


def count_chain_in_database(
    counters: Sequence[tuple[str, int, int, int]],
) -> list[tuple[int, int] | None]:
    """:func:`count_in_database` on each counter ``(key, window_start, duration, limit)`` in
    turn until one exceeds its limit, in one statement (PostgreSQL, outside a transaction):
    each upsert is a ``WITH`` that runs only if the one before let the request through.
    Returns ``(hits, expires_at)`` per counter, ``None`` for those after a refusal."""
    if not counters:
        return []
    using = router.db_for_write(ThrottleCounter)
    connection = connections[using]
    head, _values, tail = _upsert_sql(connection).partition("VALUES (%s, %s, %s, 1) ")
    parts: list[str] = []
    params: list[Any] = []
    previous = "no_flush"
    for n, (key, window_start, duration, _limit) in enumerate(counters):
        params += [key, window_start, window_start + duration]
        within = ""
        if n:  # counted only if the counter before let the request through
            within = f"WHERE {previous}.hits <= %s"
            params.append(counters[n - 1][3])
        parts.append(f"c{n} AS ({head}SELECT %s, %s, %s, 1 FROM {previous} {within} {tail})")
        previous = f"c{n}"
    columns = ", ".join(
        f"(SELECT hits FROM c{n}), (SELECT expires_at FROM c{n})" for n in range(len(counters))
    )
    sql = f"{NO_FLUSH}, {', '.join(parts)} SELECT {columns}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    pairs = [(row[2 * n], row[2 * n + 1]) for n in range(len(counters))]
    answers = [None if hits is None else (int(hits), int(ends)) for hits, ends in pairs]
    started = [c[1] for c, a in zip(counters, answers, strict=True) if a and a[0] == 1]
    if started:
        _purge_ended_windows(using, ended_by=max(started))
    return answers


def _upsert_sql(connection: Any) -> str:
    quote = connection.ops.quote_name
    meta = ThrottleCounter._meta
    table = quote(meta.db_table)
    columns = {field.name: quote(field.column) for field in meta.concrete_fields}
    key, start, ends, hits = (columns[n] for n in ("key", "window_start", "expires_at", "hits"))
    newer = f"excluded.{start} > {table}.{start}"
    return (
        f"INSERT INTO {table} ({key}, {start}, {ends}, {hits}) VALUES (%s, %s, %s, 1) "
        f"ON CONFLICT ({key}) DO UPDATE SET "
        f"{hits} = CASE WHEN {newer} THEN 1 ELSE {table}.{hits} + 1 END, "
        f"{ends} = CASE WHEN {newer} THEN excluded.{ends} ELSE {table}.{ends} END, "
        f"{start} = CASE WHEN {newer} THEN excluded.{start} ELSE {table}.{start} END "
        f"RETURNING {hits}, {ends}"
    )


def _purge_ended_windows(using: str, ended_by: int) -> None:
    """Delete the counters whose window has ended, when a window begins, so that rows of
    idle users and of device ids seen once (a client chooses them) do not pile up. Best
    effort: rows another purge holds are left to it (PostgreSQL: ``SKIP LOCKED``, no wait
    for its commit); a failure leaves rows for the next."""
    counters = ThrottleCounter.objects.using(using)
    ended = counters.filter(expires_at__lte=ended_by)
    if connections[using].features.has_select_for_update_skip_locked:
        ended = counters.filter(pk__in=ended.select_for_update(skip_locked=True).values("pk"))
    try:
        with transaction.atomic(using=using):
            ended.delete()
    except DatabaseError as exc:
        logger.info("Throttle counters whose window ended were not purged: %s", exc)


def _key_part(ident: str) -> str:
    """``ident`` as a fixed-length, ASCII-only piece of a cache key or counter row.

    A device id is client-chosen: spaces, control characters, lone surrogates or 255
    characters of it would make a key that memcached rejects (over 250 characters or not
    printable ASCII) or that Redis cannot encode, and the request would fail with a 500.
    """
    return hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()


def device_id(request: Any) -> str:
    header = request.headers.get("X-Device-Id")
    if header:
        return str(header)
    data = request.data if request.method == "POST" else {}
    return str(data.get("client_id") or "") if isinstance(data, dict) else ""


class PushUserRateThrottle(SyncRateThrottle):
    """Pushes per user (rate ``THROTTLE_RATES["user"]``)."""

    rate_name = "user"

    def get_ident(self, request: Any) -> str | None:  # type: ignore[override]
        return str(request.user.pk) if request.user.is_authenticated else None


class PushDeviceRateThrottle(SyncRateThrottle):
    """Pushes per (user, device): a client-chosen device id never escapes the user's limit."""

    rate_name = "device"

    def get_ident(self, request: Any) -> str | None:  # type: ignore[override]
        if not request.user.is_authenticated:
            return None
        return f"{request.user.pk}:{device_id(request)[:255]}"


class PullUserRateThrottle(PushUserRateThrottle):
    """Pulls per user (rate ``THROTTLE_RATES["pull_user"]``, unlimited by default): every
    request that is not a push, ``HEAD`` and ``OPTIONS`` included."""

    rate_name = "pull_user"
    methods = None


class PullDeviceRateThrottle(PushDeviceRateThrottle):
    """Pulls per (user, device) (rate ``THROTTLE_RATES["pull_device"]``)."""

    rate_name = "pull_device"
    methods = None
