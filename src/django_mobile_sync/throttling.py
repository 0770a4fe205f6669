"""Push and pull rate limits per user and per (user, device), with atomic counters.

DRF's ``SimpleRateThrottle`` reads, modifies and writes a history list, so concurrent
requests can all pass the last slot. These throttles count with ``cache.add`` + ``incr``
(atomic in Redis and in the local-memory cache) in fixed windows. The cache alias
(``THROTTLE_CACHE``) must be shared by every server process: Redis in production.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from django.core.cache import caches
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from .conf import DEFAULTS, sync_settings

_parse_rate = SimpleRateThrottle.parse_rate


class SyncRateThrottle(BaseThrottle):
    """Base class: ``rate_name`` picks the rate from the domain's or the global
    ``THROTTLE_RATES``; :meth:`get_ident` says whose counter a request increments."""

    rate_name = ""
    methods: tuple[str, ...] = ("POST",)

    def __init__(self) -> None:
        self.wait_seconds: float | None = None

    def get_rate(self, view: Any) -> str | None:
        domain = view.get_domain()
        rates = {
            **DEFAULTS["THROTTLE_RATES"],
            **sync_settings.THROTTLE_RATES,
            **(domain.throttle_rates or {}),
        }
        return rates.get(self.rate_name)

    def get_ident(self, request: Any) -> str | None:  # type: ignore[override]
        raise NotImplementedError(".get_ident() must be overridden")

    def allow_request(self, request: Any, view: Any) -> bool:
        if request.method not in self.methods:
            return True
        rate = self.get_rate(view)
        ident = self.get_ident(request)
        if not rate or ident is None:
            return True
        limit, duration = _parse_rate(None, rate)  # type: ignore[arg-type]
        if limit is None or duration is None:
            return True
        now = time.time()
        window = int(now // duration)
        key = (
            f"mobile_sync:throttle:{view.get_domain().name}:{self.rate_name}:"
            f"{_key_part(ident)}:{duration}:{window}"
        )
        cache = caches[sync_settings.THROTTLE_CACHE]
        cache.add(key, 0, timeout=duration + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=duration + 1)
            count = 1
        if count <= limit:
            return True
        self.wait_seconds = (window + 1) * duration - now
        return False

    def wait(self) -> float | None:
        return self.wait_seconds


def _key_part(ident: str) -> str:
    """``ident`` as a fixed-length, ASCII-only piece of a cache key.

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
    """Pulls per user (rate ``THROTTLE_RATES["pull_user"]``, unlimited by default)."""

    rate_name = "pull_user"
    methods = ("GET",)


class PullDeviceRateThrottle(PushDeviceRateThrottle):
    """Pulls per (user, device) (rate ``THROTTLE_RATES["pull_device"]``)."""

    rate_name = "pull_device"
    methods = ("GET",)
