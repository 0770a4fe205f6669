"""Sync analytics: the numbers (from the batch log) and the admin page that shows them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from django_mobile_sync.models import SyncBatch
from django_mobile_sync.ops.analytics import STATUSES, WINDOWS, build_report
from tests.helpers.api import new_id, push
from tests.testapp.models import Task

NOW = datetime(2025, 9, 28, 12, 30, tzinfo=UTC)


PAGE = "/admin/django_mobile_sync/syncanalytics/"
#: The page's first address, under the batch log: a redirect now.
OLD_PAGE = "/admin/django_mobile_sync/syncbatch/analytics/"


def batch(minutes_ago, domain="tasks", device="tablet-1", **counts):
    counts.setdefault("entries", sum(counts.get(s, 0) for s in STATUSES))
    return SyncBatch.objects.create(
        domain=domain,
        device_id=device,
        created_at=NOW - timedelta(minutes=minutes_ago),
        **counts,
    )


@pytest.fixture
def batches(db):
    for ms in range(1, 101):  # durations 1..100 ms in "tasks", over the last 100 minutes
        batch(ms, duration_ms=ms, created=2)
    batch(5, device="tablet-2", created=5, conflicts=3, errors=2, duration_ms=40)
    batch(30, domain="notes", device="tablet-3", created=1, errors=1, duration_ms=7)
    batch(60 * 30, created=50)  # 30 hours ago: outside 24h, inside 7d


def test_report_per_domain(batches):
    report = build_report(WINDOWS["24h"], now=NOW)
    tasks, notes = sorted(report.domains, key=lambda d: d.domain, reverse=True)
    assert (tasks.domain, tasks.pushes, tasks.entries) == ("tasks", 101, 210)
    assert tasks.items == {
        "created": 205,
        "updated": 0,
        "deleted": 0,
        "unchanged": 0,
        "resolved": 0,
        "conflicts": 3,
        "errors": 2,
    }
    assert tasks.conflict_rate == pytest.approx(3 / 210)
    assert tasks.error_rate == pytest.approx(2 / 210)
    assert (tasks.p50_ms, tasks.p95_ms) == (50, 95)  # nearest rank over 101 batches
    assert (notes.pushes, notes.entries, notes.error_rate, notes.p50_ms) == (1, 2, 0.5, 7)
    assert report.total.pushes == 102 and report.total.entries == 212
    assert build_report(WINDOWS["7d"], now=NOW).total.entries == 262
    only_notes = build_report(WINDOWS["24h"], domain="notes", now=NOW)
    assert [d.domain for d in only_notes.domains] == ["notes"]


def test_top_devices_by_errors(batches):
    report = build_report(WINDOWS["24h"], now=NOW)
    assert [(d["device_id"], d["domain"], d["errors"]) for d in report.top_devices] == [
        ("tablet-2", "tasks", 2),
        ("tablet-3", "notes", 1),
    ]
    assert report.top_devices[1]["error_rate"] == 0.5


def test_chart_has_one_bar_per_hour(batches):
    chart = build_report(WINDOWS["24h"], now=NOW).chart
    assert len(chart.bars) == 25  # the partial hour 24 h ago, and the current one
    by_hour = {bar.start: bar for bar in chart.bars}
    current = by_hour[datetime(2025, 9, 28, 12, tzinfo=UTC)]
    # 12:00 to 12:30: 30 batches of 2 (1..30 min ago) + tablet-2's 10 + the notes batch's 2
    assert (current.entries, current.conflicts, current.errors) == (72, 3, 3)
    assert chart.peak == max(bar.entries for bar in chart.bars)
    tallest = max(chart.bars, key=lambda b: b.entries)
    assert sum(s.height for s in tallest.segments) == pytest.approx(chart.height, abs=0.05)
    assert [s.kind for s in current.segments] == ["ok", "conflicts", "errors"]
    empty = build_report(WINDOWS["1h"], now=NOW + timedelta(days=365)).chart
    assert empty.peak == 0 and all(bar.segments == [] for bar in empty.bars)


def test_empty_window(db):
    report = build_report(WINDOWS["24h"], now=NOW)
    assert report.domains == [] and report.top_devices == []
    assert report.total.conflict_rate is None and report.total.p95_ms is None


def test_analytics_page_with_data(client, admin_client, django_assert_max_num_queries):
    mid = new_id()
    push(client, [{"mobile_id": mid, "title": "x"}, {"mobile_id": new_id(), "title": ""}])
    Task.objects.filter(mobile_id=mid).update(title="server")
    push(client, [{"mobile_id": mid, "version": 1, "notes": "stale"}])
    push(client, [{"mobile_id": new_id(), "text": "hello"}], domain="notes")
    with django_assert_max_num_queries(20):
        page = admin_client.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    report = page.context["report"]
    [_, tasks] = report.domains
    assert (tasks.pushes, tasks.entries, tasks.items["errors"], tasks.items["conflicts"]) == (
        2,
        3,
        1,
        1,
    )
    assert "33.33 %" in html  # tasks: 1 conflict and 1 error in 3 entries
    assert "<svg" in html and 'class="errors"' in html and 'class="conflicts"' in html
    assert "device-1" in html  # the top device by errors
    assert "https://" not in html.split("<body", 1)[1].split("</svg>")[0]  # no CDN, no remote JS
    filtered = admin_client.get(PAGE, {"window": "1h", "domain": "notes", "database": "default"})
    assert [d.domain for d in filtered.context["report"].domains] == ["notes"]
    assert filtered.context["window"] == "1h"
    bogus = admin_client.get(PAGE, {"window": "forever", "domain": "nope"})
    assert bogus.status_code == 200 and bogus.context["window"] == "24h"


def test_analytics_page_needs_view_permission(client, db):
    from django.contrib.auth.models import User
    from django.test import Client

    staff = User.objects.create_user("clerk", password="x", is_staff=True)
    browser = Client()
    browser.force_login(staff)
    assert browser.get(PAGE).status_code == 403


ENTRY = "/admin/django_mobile_sync/syncanalytics/"


@pytest.mark.parametrize("index", ["/admin/", "/admin/django_mobile_sync/"])
def test_site_and_app_index_link_to_analytics(admin_client, index):
    page = admin_client.get(index)
    assert page.status_code == 200
    html = page.content.decode()
    assert f'<a href="{ENTRY}">Sync analytics</a>' in html
    assert "Sync conflicts" in html
    assert admin_client.get(ENTRY, {"window": "7d"}).context["window"] == "7d"
    moved = admin_client.get(OLD_PAGE, {"window": "7d"})  # old links and bookmarks
    assert moved.status_code == 302 and moved["Location"] == f"{PAGE}?window=7d"


def test_the_navigation_highlights_sync_analytics_on_its_page(admin_client):
    """The sidebar marks the entry whose address the page's is under: the page sits at the
    entry's own address, not under the batch log's."""
    html = admin_client.get(PAGE).content.decode()
    current = re.findall(r'<tr class="model-(\w+) current-model">', html)
    assert current == ["syncanalytics"]
    assert f'<a href="{ENTRY}" aria-current="page">Sync analytics</a>' in html


def test_analytics_entry_needs_the_batch_logs_view_permission(db):
    from django.contrib.auth.models import Permission, User
    from django.test import Client

    staff = User.objects.create_user("clerk", password="x", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_syncconflict"))
    browser = Client()
    browser.force_login(staff)
    assert ENTRY not in browser.get("/admin/").content.decode()
    assert browser.get(ENTRY).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_syncbatch"))
    browser.force_login(User.objects.get(pk=staff.pk))
    assert ENTRY in browser.get("/admin/").content.decode()
    assert browser.get(ENTRY).status_code == 200


def test_chart_has_a_y_axis_scale(batches):
    chart = build_report(WINDOWS["24h"], now=NOW).chart
    values = [value for _, value in chart.y_ticks]
    assert values[0] == 0 and values[-1] <= chart.peak < values[-1] + values[1]
    assert len(values) <= 6 and values == list(range(0, values[-1] + 1, values[1]))
    # Each value sits where a bar of that many items would end.
    for y, value in chart.y_ticks:
        assert y == pytest.approx(chart.height * (1 - value / chart.peak), abs=0.01)


@pytest.mark.parametrize(
    ("peak", "scale"),
    [
        (0, [0]),
        (1, [0, 1]),
        (5, [0, 1, 2, 3, 4, 5]),
        (9, [0, 2, 4, 6, 8]),
        (99, [0, 20, 40, 60, 80]),
        (173, [0, 50, 100, 150]),
        (4321, [0, 1000, 2000, 3000, 4000]),
    ],
)
def test_y_axis_values_are_round(peak, scale):
    from django_mobile_sync.ops.analytics import axis_values

    assert axis_values(peak) == scale


def test_analytics_page_draws_the_scale(client, admin_client):
    for _ in range(3):
        push(client, [{"mobile_id": new_id(), "title": "x"}])
    html = admin_client.get(PAGE).content.decode()
    labels = [int(v) for v in re.findall(r'class="y-tick"[^>]*>(\d+)</text>', html)]
    assert labels == [0, 1, 2, 3]
    assert html.count('class="grid"') == 4
