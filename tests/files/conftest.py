"""Fixtures of the files tests: a device of a tenant speaking tus, and the ``scans`` domain
(a task's scanned pages, whose ``file`` is a file reference)."""

from __future__ import annotations

import base64
import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import FileSystemStorage, storages
from rest_framework.test import APIClient

from django_mobile_sync.domains import SyncDomain
from tests.helpers.api import make_user
from tests.testapp.models import Org

FILES = "/api/sync/files/"
TUS = {"Tus-Resumable": "1.0.0"}
SCANS = SyncDomain(
    name="scans",
    model="testapp.Scan",
    fields=["task", "file", "title"],
    tenant_fields=["org"],
    scope="tests.testapp.scopes.org_scope",
    resolver="merge",
)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def metadata(data: bytes | None = None, *, sha: str | None = None, **more: str) -> str:
    pairs = {"sha256": sha if sha is not None else digest(data or b""), **more}
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in pairs.items())


def chunk_checksum(data: bytes) -> str:
    return "sha256 " + base64.b64encode(hashlib.sha256(data).digest()).decode()


@dataclass
class Device:
    """A user's client of the files endpoints."""

    api: APIClient

    def create(self, data: bytes, **headers: Any) -> Any:
        head = {**TUS, "Upload-Length": str(len(data)), "Upload-Metadata": metadata(data)}
        return self.api.post(FILES, headers={**head, **headers})

    def patch(self, url: str, chunk: bytes, offset: int, **headers: Any) -> Any:
        head = {**TUS, "Upload-Offset": str(offset), **headers}
        return self.api.generic(
            "PATCH",
            url,
            chunk,  # type: ignore[arg-type]  # bytes are sent as they are
            content_type=headers.pop("content_type", "application/offset+octet-stream"),
            headers=head,
        )

    def head(self, url: str, **headers: Any) -> Any:
        return self.api.head(url, headers={**TUS, **headers})

    def upload(self, data: bytes, chunk: int = 1000, meta: str | None = None) -> str:
        """Upload ``data`` whole, in chunks; the upload's URL."""
        created = self.create(data, **({"Upload-Metadata": meta} if meta else {}))
        assert created.status_code == 201, created.content
        url = created["Location"]
        offset = 0
        while offset < len(data) or offset == 0:
            answer = self.patch(url, data[offset : offset + chunk], offset)
            assert answer.status_code == 204, answer.content
            offset = int(answer["Upload-Offset"])
            if offset == len(data):
                break
        return url

    def get(self, sha: str, **extra: Any) -> Any:
        return self.api.get(f"{FILES}sha256/{sha}", **extra)


def files_root() -> Path:
    """Where the tests' file system storage keeps the files."""
    storage = storages["default"]
    assert isinstance(storage, FileSystemStorage)
    return Path(storage.location)


def stored_files() -> list[Path]:
    return sorted(p for p in files_root().rglob("*") if p.is_file())


@pytest.fixture(autouse=True)
def _files_storage() -> Iterator[None]:
    location = files_root()
    shutil.rmtree(location, ignore_errors=True)
    yield
    shutil.rmtree(location, ignore_errors=True)


@pytest.fixture
def scans(settings: Any) -> SyncDomain:
    settings.MOBILE_SYNC = {
        **settings.MOBILE_SYNC,
        "DOMAINS": [*settings.MOBILE_SYNC["DOMAINS"], SCANS],
    }
    return SCANS


def device_of(username: str, org: Org | None) -> Device:
    api = APIClient()
    api.force_authenticate(make_user(username, org))
    return Device(api)


@pytest.fixture
def acme(db: Any) -> Org:
    return Org.objects.create(name="acme")


@pytest.fixture
def ann(acme: Org) -> Device:
    return device_of("ann", acme)


@pytest.fixture
def bob(acme: Org) -> Device:
    """Ann's colleague: same tenant, another user."""
    return device_of("bob", acme)


@pytest.fixture
def eve(db: Any) -> Device:
    """A user of another tenant."""
    return device_of("eve", Org.objects.create(name="globex"))
