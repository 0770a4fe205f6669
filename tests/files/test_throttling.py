"""The files endpoints run the library's throttles (docs/files.md#limits): creating an upload
counts as a push, every other request as a pull, and an over-rate device gets the library's
``429`` JSON with ``Retry-After``."""

from __future__ import annotations

import os
from typing import Any

from django_mobile_sync.files.models import Upload
from tests.files.conftest import TUS, Device

DATA = os.urandom(3000)


def rates(settings: Any, **values: str | None) -> None:
    settings.MOBILE_SYNC = {**settings.MOBILE_SYNC, "THROTTLE_RATES": values}


def assert_throttled(answer: Any, *, body: bool = True) -> None:
    assert answer.status_code == 429, answer.content
    if body:
        assert answer.json()["code"] == "throttled"
    assert 0 < int(answer["Retry-After"]) <= 3600
    assert answer["Tus-Resumable"] == "1.0.0"


def test_an_over_rate_device_is_refused_a_patch_and_keeps_its_offset(
    ann: Device, settings: Any
) -> None:
    rates(settings, user="100/hour", pull_device="2/hour")
    url = ann.create(DATA)["Location"]
    device = {"X-Device-Id": "phone"}
    assert ann.patch(url, DATA[:1000], 0, **device).status_code == 204
    assert ann.patch(url, DATA[1000:2000], 1000, **device).status_code == 204
    refused = ann.patch(url, DATA[2000:], 2000, **device)
    assert_throttled(refused)
    assert Upload.objects.get().offset == 2000  # nothing of the refused chunk was kept
    # another device of the same user has a counter of its own
    assert ann.patch(url, DATA[2000:], 2000, **{"X-Device-Id": "tablet"}).status_code == 204


def test_an_over_rate_device_is_refused_a_download(ann: Device, settings: Any) -> None:
    ann.upload(DATA)
    sha = Upload.objects.get().sha256
    rates(settings, user="100/hour", pull_user="2/hour")
    assert [ann.get(sha).status_code for _ in range(2)] == [200, 200]
    assert_throttled(ann.get(sha))
    assert_throttled(ann.api.head(f"/api/sync/files/sha256/{sha}"), body=False)


def test_creating_an_upload_spends_the_push_rate(ann: Device, settings: Any) -> None:
    rates(settings, user="1/hour")
    assert ann.create(DATA).status_code == 201
    assert_throttled(ann.create(DATA))
    assert Upload.objects.count() == 1


def test_discovery_is_not_counted_for_anonymous_clients(ann: Device, settings: Any) -> None:
    rates(settings, pull_user="1/hour", pull_device="1/hour")
    answers = [ann.api.options("/api/sync/files/", headers=TUS) for _ in range(3)]
    # OPTIONS counts as a pull of the authenticated user ...
    assert [a.status_code for a in answers] == [204, 429, 429]
    ann.api.logout()
    # ... and is never refused to an anonymous client, which has no counter
    assert ann.api.options("/api/sync/files/").status_code == 204
