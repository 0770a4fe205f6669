"""``photos``: a work order's photos, their bytes uploaded resumably at ``files/`` (tus), the
record pulled before and after its upload, and the admin's thumbnails (docs/files.md)."""

from __future__ import annotations

import base64
import hashlib
import io
from typing import Any

from django.contrib.auth.models import User
from PIL import Image

from field_ops.models import Photo, WorkOrder
from tests.helpers.devices import PREFIX, Device, new_id

TUS = {"Tus-Resumable": "1.0.0"}


def jpeg(colour: str = "red", size: tuple[int, int] = (640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


def upload(device: Device, data: bytes, chunk: int = 4096) -> None:
    """Upload ``data`` with tus, in chunks, as a device's queue does."""
    meta = {"sha256": hashlib.sha256(data).hexdigest(), "content_type": "image/jpeg"}
    encoded = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())
    created = device.api.post(
        f"{PREFIX}files/",
        headers={**TUS, "Upload-Length": str(len(data)), "Upload-Metadata": encoded},
    )
    assert created.status_code == 201, created.content
    for offset in range(0, len(data), chunk):
        answer = device.api.generic(
            "PATCH",
            created["Location"],
            data[offset : offset + chunk],  # type: ignore[arg-type]
            content_type="application/offset+octet-stream",
            headers={**TUS, "Upload-Offset": str(offset)},
        )
        assert answer.status_code == 204, answer.content


def work_order(device: Device) -> str:
    mobile_id = new_id()
    kind, _ = device.push_one("work-orders", {"mobile_id": mobile_id, "description": "Chiller"})
    assert kind == "synced_items"
    return mobile_id


def test_a_photo_pulls_unavailable_then_available_after_its_upload(
    alice: Device, bob: Device
) -> None:
    data = jpeg()
    digest = hashlib.sha256(data).hexdigest()
    order = work_order(alice)
    photo = new_id()
    kind, item = alice.push_one(
        "photos", {"mobile_id": photo, "work_order": order, "file": digest, "caption": "before"}
    )
    assert (kind, item["status"]) == ("synced_items", "created"), item
    [pulled], cursor = bob.pull_all("photos")
    assert pulled["file_available"] is False and pulled["file_size"] is None
    head = bob.api.head(f"{PREFIX}files/sha256/{digest}")
    assert head.status_code == 404  # bob's queue would upload it; alice's does
    upload(alice, data)
    [moved], _ = bob.pull_all("photos", cursor)
    assert (moved["mobile_id"], moved["file_available"]) == (photo, True)
    assert (moved["file_size"], moved["file_content_type"]) == (len(data), "image/jpeg")
    download = bob.api.get(f"{PREFIX}files/sha256/{digest}", HTTP_ACCEPT_ENCODING="gzip")
    assert b"".join(download.streaming_content) == data
    # Served as stored: never gzipped by the project's GZipMiddleware (ranges, a strong ETag).
    assert "Content-Encoding" not in download and download["ETag"] == f'"{digest}"'


def test_deleting_the_work_order_tombstones_its_photos(alice: Device) -> None:
    order = work_order(alice)
    photo = new_id()
    alice.push_one(
        "photos", {"mobile_id": photo, "work_order": order, "file": hashlib.sha256().hexdigest()}
    )
    WorkOrder.objects.get(mobile_id=order).delete()
    record = alice.record("photos", photo)
    assert record is not None and record["deleted"] is True


def test_the_admin_work_order_page_shows_the_photos_as_thumbnails(
    alice: Device, client: Any
) -> None:
    data = jpeg("blue")
    order = work_order(alice)
    for caption, digest in [("uploaded", hashlib.sha256(data).hexdigest()), ("later", "0" * 64)]:
        alice.push_one(
            "photos",
            {"mobile_id": new_id(), "work_order": order, "file": digest, "caption": caption},
        )
    upload(alice, data)
    client.force_login(User.objects.create_superuser("root", password="x"))
    pk = WorkOrder.objects.get(mobile_id=order).pk
    page = client.get(f"/admin/field_ops/workorder/{pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    uploaded = Photo.objects.get(caption="uploaded")
    src = f"/admin/field_ops/workorder/photos/{uploaded.pk}/thumbnail/"
    assert f'<img src="{src}"' in html
    assert "not uploaded yet" in html
    digest = uploaded.file  # shortened, so that the inline fits the page; whole in a tooltip
    assert f'<code title="{digest}">{digest[:12]}…</code>' in html
    thumb = client.get(src)
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    image = Image.open(io.BytesIO(thumb.content))
    assert max(image.size) <= 160
    later = Photo.objects.get(caption="later")
    assert (
        client.get(f"/admin/field_ops/workorder/photos/{later.pk}/thumbnail/").status_code == 404
    )
    client.logout()
    assert client.get(src).status_code == 302  # to the login page


def test_the_openapi_schema_describes_the_file_fields_of_a_photo(client: Any, db: Any) -> None:
    schema = client.get("/api/schema/", {"format": "json"}).json()
    record = schema["components"]["schemas"]["PhotosRecord"]["properties"]
    assert record["file_available"]["type"] == "boolean" and record["file_available"]["readOnly"]
    assert record["file_size"]["nullable"] and record["file_content_type"]["readOnly"]
