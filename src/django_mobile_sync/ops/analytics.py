"""Sync analytics from the batch log (``SyncBatch``): the numbers behind the admin page.

Everything is computed in the database with a bounded number of queries (one aggregate per
view, two per domain for the duration percentiles, one for the hourly chart), so a month of
batches never comes into memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import DatabaseError
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from ..engine import BATCH_COUNTS
from ..models import SyncBatch

#: Windows the analytics page offers, by query-string value.
WINDOWS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
DEFAULT_WINDOW = "24h"
#: Counters of a batch, in the order the page shows them.
STATUSES = BATCH_COUNTS
TOP_DEVICES = 10


@dataclass
class DomainStats:
    """One domain's (or all domains') numbers over the window."""

    domain: str
    pushes: int = 0
    entries: int = 0
    items: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    p50_ms: int | None = None
    p95_ms: int | None = None

    @property
    def conflict_rate(self) -> float | None:
        """Share of entries answered ``conflict`` (``None`` without entries)."""
        return self.items["conflicts"] / self.entries if self.entries else None

    @property
    def error_rate(self) -> float | None:
        """Share of entries answered ``error`` (``None`` without entries)."""
        return self.items["errors"] / self.entries if self.entries else None

    @property
    def conflict_percent(self) -> float | None:
        rate = self.conflict_rate
        return None if rate is None else rate * 100

    @property
    def error_percent(self) -> float | None:
        rate = self.error_rate
        return None if rate is None else rate * 100

    @property
    def item_counts(self) -> list[int]:
        return [self.items[s] for s in STATUSES]


@dataclass
class Segment:
    y: float
    height: float
    kind: str  # "ok", "conflicts" or "errors": the CSS class of the bar part


@dataclass
class Bar:
    """One hour of the chart, as SVG coordinates."""

    start: datetime
    x: float
    width: float
    entries: int
    conflicts: int
    errors: int
    segments: list[Segment]


@dataclass
class Chart:
    """Items per hour, stacked: accepted, conflicts, errors. Drawn as inline SVG."""

    width: int
    height: int
    peak: int
    bars: list[Bar]
    ticks: list[tuple[float, str]]  # (x, label) under the bars
    y_ticks: list[tuple[float, int]] = field(default_factory=list)  # (y, items) of the scale


@dataclass
class Report:
    since: datetime
    until: datetime
    domains: list[DomainStats]
    total: DomainStats
    top_devices: list[dict[str, Any]]
    chart: Chart


def build_report(
    window: timedelta,
    *,
    domain: str | None = None,
    using: str = "default",
    now: datetime | None = None,
) -> Report:
    """The numbers of the analytics page for the ``window`` up to ``now``."""
    until = now or timezone.now()
    since = until - window
    batches = SyncBatch.objects.using(using).filter(created_at__gt=since, created_at__lte=until)
    if domain:
        batches = batches.filter(domain=domain)
    per_domain = [
        _stats(batches.filter(domain=row["domain"]), row["domain"], dict(row))
        for row in batches.values("domain").annotate(**_sums()).order_by("domain")
    ]
    total = _stats(batches, "all domains", batches.aggregate(**_sums()))
    return Report(
        since=since,
        until=until,
        domains=per_domain,
        total=total,
        top_devices=_top_devices(batches),
        chart=_chart(batches, since, until),
    )


def _sums() -> dict[str, Any]:
    return {
        "pushes": Count("id"),
        "entries_sum": Sum("entries"),
        **{f"{s}_sum": Sum(s) for s in STATUSES},
    }


def _stats(batches: QuerySet[SyncBatch], name: str, row: dict[str, Any]) -> DomainStats:
    stats = DomainStats(name)
    stats.pushes = int(row.get("pushes") or 0)
    stats.entries = int(row.get("entries_sum") or 0)
    stats.items = {s: int(row.get(f"{s}_sum") or 0) for s in STATUSES}
    stats.p50_ms = _percentile(batches, stats.pushes, 0.50)
    stats.p95_ms = _percentile(batches, stats.pushes, 0.95)
    return stats


def _percentile(batches: QuerySet[SyncBatch], count: int, fraction: float) -> int | None:
    """Nearest-rank percentile of ``duration_ms``: one indexed row, not the whole column."""
    if not count:
        return None
    rank = max(math.ceil(fraction * count), 1) - 1
    durations = batches.order_by("duration_ms").values_list("duration_ms", flat=True)
    return int(durations[rank])


def _top_devices(batches: QuerySet[SyncBatch]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        dict(row)
        for row in batches.values("domain", "device_id", "user_id")
        .annotate(pushes=Count("id"), entries=Sum("entries"), errors=Sum("errors"))
        .filter(errors__gt=0)
        .order_by("-errors", "device_id")[:TOP_DEVICES]
    ]
    names = _usernames({row["user_id"] for row in rows if row["user_id"] is not None})
    for row in rows:
        row["user"] = names.get(row["user_id"], row["user_id"])
        row["error_rate"] = row["errors"] / row["entries"] if row["entries"] else None
    return rows


def _usernames(ids: set[Any]) -> dict[Any, str]:
    if not ids:
        return {}
    users = get_user_model()._default_manager.filter(pk__in=ids)
    try:  # the users may live in another database than the batch log
        return {user.pk: user.get_username() for user in users}
    except DatabaseError:
        return {}


CHART_WIDTH, CHART_HEIGHT = 720, 160


def _chart(batches: QuerySet[SyncBatch], since: datetime, until: datetime) -> Chart:
    hourly: dict[datetime, dict[str, Any]] = {
        row["hour"]: dict(row)
        for row in batches.annotate(hour=TruncHour("created_at", tzinfo=UTC))
        .values("hour")
        .annotate(entries=Sum("entries"), conflicts=Sum("conflicts"), errors=Sum("errors"))
        .order_by("hour")
    }
    first = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hours = [
        first + timedelta(hours=i) for i in range(int((until - first) / timedelta(hours=1)) + 1)
    ]
    peak = max([int(row["entries"] or 0) for row in hourly.values()] or [0])
    width = CHART_WIDTH / len(hours)
    scale = CHART_HEIGHT / peak if peak else 0.0
    bars = []
    for index, hour in enumerate(hours):
        row: dict[str, Any] = hourly.get(hour, {})
        entries, conflicts, errors = (
            int(row.get(k) or 0) for k in ("entries", "conflicts", "errors")
        )
        segments, y = [], float(CHART_HEIGHT)
        for kind, value in (
            ("ok", entries - conflicts - errors),
            ("conflicts", conflicts),
            ("errors", errors),
        ):
            if value > 0:
                y -= value * scale
                segments.append(Segment(round(y, 2), round(value * scale, 2), kind))
        bars.append(
            Bar(
                hour,
                round(index * width, 2),
                round(width, 2),
                entries,
                conflicts,
                errors,
                segments,
            )
        )
    step = max(len(hours) // 6, 1)
    label = "%H:%M" if len(hours) <= 48 else "%b %d %H:%M"
    ticks = [(bar.x, bar.start.strftime(label)) for bar in bars[::step]]
    y_ticks = [(round(CHART_HEIGHT - value * scale, 2), value) for value in axis_values(peak)]
    return Chart(CHART_WIDTH, CHART_HEIGHT, peak, bars, ticks, y_ticks)


def axis_values(peak: int) -> list[int]:
    """Round values from 0 up to ``peak`` for the y-axis: the smallest step of 1, 2 or 5
    times a power of ten that needs at most five steps."""
    if peak <= 0:
        return [0]
    magnitude = 1
    while True:
        for multiple in (1, 2, 5):
            step = multiple * magnitude
            if peak <= 5 * step:
                return list(range(0, peak + 1, step))
        magnitude *= 10
