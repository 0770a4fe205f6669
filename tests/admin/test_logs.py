"""The admin of the app's tables: the audit log (filters, payloads side by side), the
idempotency records, the batch log and the purges, all read-only."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from django_mobile_sync.models import IdempotencyRecord, SyncBatch, SyncConflict, TombstonePurge
from tests.helpers.admin import ADMIN, CONFLICTS, stale_conflict
from tests.helpers.api import new_id, push


def test_conflict_changelist_filters(client, admin_client):
    conflict = stale_conflict(client)
    response = admin_client.get(CONFLICTS)
    assert response.status_code == 200
    assert str(conflict.mobile_id) in response.content.decode()
    for query in (
        "domain=tasks",
        "resolution=rejected",
        "device_id=device-1",
        f"created_at__year={timezone.now().year}",
    ):
        response = admin_client.get(f"{CONFLICTS}?{query}")
        assert response.status_code == 200, query
        assert str(conflict.mobile_id) in response.content.decode(), query
    response = admin_client.get(f"{CONFLICTS}?device_id=another-device")
    assert str(conflict.mobile_id) not in response.content.decode()
    filters = response.content.decode()
    assert "By domain" in filters and "By device" in filters and "By resolution" in filters


def test_conflict_detail_shows_payloads_side_by_side(client, admin_client):
    conflict = stale_conflict(client)
    response = admin_client.get(f"{CONFLICTS}{conflict.pk}/change/")
    assert response.status_code == 200
    rows = {row["name"]: row for row in response.context["payload_rows"]}
    assert rows["notes"] == {
        "name": "notes",
        "client": '"device"',
        "server": '"base notes"',
        "result": None,
        "differs": True,
    }
    assert rows["title"]["differs"] is False  # the device did not send it
    assert rows["title"]["client"] == "—" and rows["title"]["server"] == '"Server title"'
    html = response.content.decode()
    assert 'id="sync-payloads"' in html
    assert html.count('class="differs"') == 1
    assert "Re-apply the device's version" in html


def test_idempotency_records_show_hits_and_expiry(client, admin_client):
    push(client, [], headers={"Idempotency-Key": "live"})
    push(client, [], headers={"Idempotency-Key": "live"})
    push(client, [], headers={"Idempotency-Key": "old"})
    IdempotencyRecord.objects.filter(key="old").update(
        expires_at=timezone.now() - timedelta(hours=1)
    )
    page = admin_client.get(ADMIN + "idempotencyrecord/")
    assert page.status_code == 200
    assert list(page.context["cl"].result_list.values_list("key", "hits")) == [
        ("old", 0),
        ("live", 1),
    ]
    expired = admin_client.get(ADMIN + "idempotencyrecord/?expired=yes")
    assert [r.key for r in expired.context["cl"].result_list] == ["old"]
    live = admin_client.get(ADMIN + "idempotencyrecord/?expired=no")
    assert [r.key for r in live.context["cl"].result_list] == ["live"]
    record = IdempotencyRecord.objects.get(key="live")
    detail = admin_client.get(f"{ADMIN}idempotencyrecord/{record.pk}/change/")
    assert (
        detail.status_code == 200
        and "response_body" not in detail.context["adminform"].form.fields
    )


@pytest.mark.parametrize("model", ["syncbatch", "tombstonepurge"])
def test_logs_changelist_and_detail(client, admin_client, model):
    push(client, [{"mobile_id": new_id(), "title": "x"}])
    TombstonePurge.objects.create(domain="tasks", horizon_seq=1, purged_before=timezone.now())
    page = admin_client.get(f"{ADMIN}{model}/")
    assert page.status_code == 200
    [row] = page.context["cl"].result_list
    assert admin_client.get(f"{ADMIN}{model}/{row.pk}/change/").status_code == 200
    assert admin_client.get(f"{ADMIN}{model}/add/").status_code == 403


def test_batch_log_links_to_analytics(client, admin_client):
    push(client, [])
    page = admin_client.get(ADMIN + "syncbatch/").content.decode()
    assert f'href="{ADMIN}syncanalytics/"' in page
    assert SyncBatch.objects.count() == 1


def test_batch_log_shows_the_applied_items_in_one_column(client, admin_client):
    """The five applied counts are one column (the non-zero ones), so the log fits a
    1280 px window (example_project/tests/test_browser.py looks)."""
    first = new_id()
    push(client, [{"mobile_id": first, "title": "a"}, {"mobile_id": new_id(), "title": "b"}])
    push(client, [{"mobile_id": first, "version": 1, "title": "a2"}])
    push(client, [])
    page = admin_client.get(ADMIN + "syncbatch/").content.decode()
    cells = re.findall(r'<td class="field-applied">([^<]*)</td>', page)
    assert cells == ["none", "1 updated", "2 created"]


@pytest.mark.parametrize(
    "model", ["syncconflict", "syncbatch", "idempotencyrecord", "tombstonepurge"]
)
def test_logs_are_read_only_even_for_a_superuser(client, admin_client, model):
    conflict = stale_conflict(client)  # a conflict, and batches
    push(client, [], headers={"Idempotency-Key": "k"})
    TombstonePurge.objects.create(domain="tasks", horizon_seq=1, purged_before=timezone.now())
    changelist = admin_client.get(f"{ADMIN}{model}/")
    assert changelist.status_code == 200
    form = changelist.context["action_form"]  # None: no action at all
    actions = [name for name, _ in form.fields["action"].choices] if form else []
    assert actions == (["", "reapply_client_version"] if model == "syncconflict" else [])
    assert "Delete selected" not in changelist.content.decode()
    row = changelist.context["cl"].result_list[0]
    detail = admin_client.get(f"{ADMIN}{model}/{row.pk}/change/")
    assert detail.status_code == 200
    assert 'class="deletelink"' not in detail.content.decode()
    assert admin_client.get(f"{ADMIN}{model}/{row.pk}/delete/").status_code == 403
    posted = admin_client.post(
        f"{ADMIN}{model}/", {"action": "delete_selected", "_selected_action": [row.pk]}
    )
    assert posted.status_code in (200, 302)  # no such action: nothing deleted
    assert type(row).objects.filter(pk=row.pk).exists()
    assert SyncConflict.objects.filter(pk=conflict.pk).exists()
