"""``MAX_STREAMS_PER_USER`` across processes: a lease row per open stream (``StreamLease``).

A stream takes a lease before it starts and deletes it when it ends; the process's detector
renews the leases of its open streams every half heartbeat, so those of a process that died,
or of a stream whose client left before it started, expire within one heartbeat.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from .models import StreamLease


def acquire_lease(user_key: str, holder: str, limit: int, heartbeat: float) -> int | None:
    """A lease for one more stream of ``user_key``; ``None`` when it would be over
    ``limit``. The lease is written first, then counted behind the user's older ones, so
    two streams opened at once on two servers cannot both take the last place."""
    now = timezone.now()
    StreamLease.objects.filter(user_key=user_key, expires_at__lt=now).delete()
    lease = StreamLease.objects.create(
        user_key=user_key, holder=holder, expires_at=now + timedelta(seconds=heartbeat)
    )
    ahead = StreamLease.objects.filter(
        user_key=user_key, expires_at__gte=now, pk__lt=lease.pk
    ).count()
    if ahead >= limit:
        lease.delete()
        return None
    return int(lease.pk)


def release_leases(leases: list[int]) -> None:
    """These streams ended: they no longer count."""
    StreamLease.objects.filter(pk__in=leases).delete()


def renew_leases(leases: list[int], heartbeat: float) -> None:
    """The leases of this process's open streams last one more heartbeat (one that no
    stream holds, of a stream whose client left before it started, expires); expired ones
    of any process go."""
    now = timezone.now()
    StreamLease.objects.filter(pk__in=leases).update(expires_at=now + timedelta(seconds=heartbeat))
    StreamLease.objects.filter(expires_at__lt=now - timedelta(seconds=heartbeat)).delete()
