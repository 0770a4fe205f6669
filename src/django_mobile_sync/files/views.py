"""The HTTP endpoints of files: tus uploads at ``{prefix}files/`` and downloads by digest at
``{prefix}files/sha256/<hex>`` (docs/files.md).

Checks run in this order: authentication (``401``), the upload's owner (``404``, before
anything else about it), ``Tus-Resumable`` (``412``), then the rest.
"""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from django.http import HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import http_date
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from django_mobile_sync.api import SyncJSONRenderer, SyncViewSchema, sync_exception_handler
from django_mobile_sync.conf import sync_settings
from django_mobile_sync.throttling import first_refusal

from .downloads import blob_response
from .models import Upload
from .schema import FilesSchemaMixin
from .tenancy import request_scope, scope_values, tenant_key
from .tus import (
    EXTENSIONS,
    TUS_VERSION,
    TusError,
    read_checksum,
    read_length,
    read_metadata,
    read_offset,
)
from .uploads import create_upload, patch_upload, terminate_upload

__all__ = ["BlobView", "FilesAPIView", "UploadCreateView", "UploadView"]

OFFSET_STREAM = "application/offset+octet-stream"


class FilesAPIView(APIView):
    """Common base: the library's authentication, permissions and throttles
    (``THROTTLE_CLASSES`` at the global ``THROTTLE_RATES``: creating an upload counts as a
    push, every other request as a pull), JSON errors, the ``Tus-Resumable`` header on
    every answer (docs/files.md#limits)."""

    renderer_classes = [SyncJSONRenderer]
    parser_classes: list[Any] = []
    schema = SyncViewSchema(FilesSchemaMixin)  # described by drf-spectacular (files/schema.py)

    def get_authenticators(self) -> list[Any]:
        classes = sync_settings.AUTHENTICATION_CLASSES
        if classes is None:
            classes = api_settings.DEFAULT_AUTHENTICATION_CLASSES
        return [cls() for cls in classes]

    def get_permissions(self) -> list[Any]:
        return [cls() for cls in sync_settings.PERMISSION_CLASSES]

    def get_throttles(self) -> list[Any]:
        return [cls() for cls in sync_settings.THROTTLE_CLASSES]

    def check_throttles(self, request: Request) -> None:
        """As the sync views: the first throttle that refuses answers ``429`` with
        ``Retry-After``, and the ones after it do not count the request."""
        refusal = first_refusal(self.get_throttles(), request, self)
        if refusal is not None:
            self.throttled(request, refusal.wait)  # type: ignore[arg-type]

    def throttle_domain(self) -> None:
        """No domain's ``throttle_rates`` apply: files count at the global rates."""
        return None

    def get_exception_handler(self) -> Any:
        return sync_exception_handler

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Tus-Resumable"] = TUS_VERSION
        if response.status_code == 460:
            response.reason_phrase = "Checksum Mismatch"
        return response

    def tenant(self, request: Request) -> tuple[dict[str, Any], str]:
        scope = scope_values(request_scope(request))
        return scope, tenant_key(scope)


def check_tus_resumable(request: Request) -> None:
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise TusError(
            412, f"Send Tus-Resumable: {TUS_VERSION}, the only version served.", "tus_version"
        )


def upload_headers(upload: Upload) -> dict[str, str]:
    headers = {
        "Upload-Offset": str(upload.offset),
        "Upload-Length": str(upload.length),
        "Cache-Control": "no-store",
    }
    if not upload.complete:
        headers["Upload-Expires"] = http_date(upload.expires_at.timestamp())
    return headers


def no_content(headers: dict[str, str]) -> Response:
    return Response(status=204, headers=headers)


class UploadCreateView(FilesAPIView):
    """``OPTIONS`` (what the server supports) and ``POST`` (a new upload) at ``files/``."""

    def check_permissions(self, request: Request) -> None:
        if request.method != "OPTIONS":  # discovery needs no authentication
            super().check_permissions(request)

    def options(self, request: Request, *args: Any, **kwargs: Any) -> Response:  # type: ignore[override]
        return no_content(
            {
                "Tus-Version": TUS_VERSION,
                "Tus-Extension": EXTENSIONS,
                "Tus-Max-Size": str(sync_settings.MAX_FILE_BYTES),
                "Tus-Checksum-Algorithm": "sha256",
            }
        )

    def post(self, request: Request) -> Response:
        check_tus_resumable(request)
        length = read_length(request.headers, sync_settings.MAX_FILE_BYTES)
        meta = read_metadata(request.headers.get("Upload-Metadata", ""))
        scope, tenant = self.tenant(request)
        upload = create_upload(request.user, scope, tenant, length, meta)
        location = request.build_absolute_uri(
            reverse(f"{request.resolver_match.namespace}:files-upload", args=[upload.pk])
            if request.resolver_match and request.resolver_match.namespace
            else reverse("files-upload", args=[upload.pk])
        )
        headers = {"Location": location, **upload_headers(upload)}
        headers.pop("Cache-Control")
        return Response(status=201, headers=headers)


class UploadView(FilesAPIView):
    """``HEAD``, ``PATCH`` and ``DELETE`` of one upload, its owner's only."""

    def owned(self, request: Request, upload_id: str) -> Upload:
        _scope, tenant = self.tenant(request)
        try:
            pk = UUID(upload_id)
        except ValueError:
            pk = None
        upload = (
            Upload.objects.filter(pk=pk, user=cast(Any, request.user), tenant=tenant).first()
            if pk is not None
            else None
        )
        if upload is None or (not upload.complete and upload.expires_at <= timezone.now()):
            raise TusError(404, "This upload does not exist (or has expired).", "not_found")
        return upload

    def head(self, request: Request, upload_id: str) -> Response:
        upload = self.owned(request, upload_id)
        check_tus_resumable(request)
        return Response(status=200, headers=upload_headers(upload))

    def patch(self, request: Request, upload_id: str) -> Response:
        upload = self.owned(request, upload_id)
        check_tus_resumable(request)
        if request.content_type.split(";")[0].strip() != OFFSET_STREAM:
            raise TusError(415, f"Send the bytes as Content-Type: {OFFSET_STREAM}.", "tus")
        offset = read_offset(request.headers)
        checksum = read_checksum(request.headers.get("Upload-Checksum", ""))
        content_length = request.META.get("CONTENT_LENGTH") or ""
        length = int(content_length) if content_length.isdigit() else None
        result = patch_upload(upload, offset, request._request.read, length, checksum)
        upload.offset = result.offset
        if result.completed:
            upload.completed_at = upload.completed_at or timezone.now()
        headers = upload_headers(upload)
        headers.pop("Upload-Length")
        return no_content(headers)

    def delete(self, request: Request, upload_id: str) -> Response:
        upload = self.owned(request, upload_id)
        check_tus_resumable(request)
        terminate_upload(upload)
        return no_content({})


class BlobView(FilesAPIView):
    """``GET`` and ``HEAD`` of a tenant's file by its digest."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Served as stored, never gzipped by GZipMiddleware on the way out: a gzipped body
        # would break Range offsets and weaken the ETag, and photos do not compress.
        request._request.META.pop("HTTP_ACCEPT_ENCODING", None)
        super().initial(request, *args, **kwargs)

    def get(self, request: Request, sha256: str) -> HttpResponse | StreamingHttpResponse:
        _scope, tenant = self.tenant(request)
        return blob_response(request, tenant, sha256, body=True)

    def head(self, request: Request, sha256: str) -> HttpResponse | StreamingHttpResponse:
        _scope, tenant = self.tenant(request)
        return blob_response(request, tenant, sha256, body=False)
