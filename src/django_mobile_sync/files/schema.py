"""The OpenAPI description of the files endpoints, for drf-spectacular (docs/files.md).

The views' ``schema`` is the core's :class:`~django_mobile_sync.api.SyncViewSchema` with
:class:`FilesSchemaMixin`: creating an upload (``POST files/``), sending a chunk (``PATCH``)
and terminating it (``DELETE files/<id>``), and downloading a file (``GET
files/sha256/<hex>``), with tus's headers and every status each answers. ``OPTIONS`` and
``HEAD`` are left out, as drf-spectacular leaves them out of every view. drf-spectacular is
imported only when a schema is generated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django_mobile_sync.api import ErrorResponseSerializer

if TYPE_CHECKING:
    from drf_spectacular.openapi import AutoSchema as _SchemaBase
else:
    _SchemaBase = object

__all__ = ["FilesSchemaMixin"]

TAG = "files"
SHA256_HEX = {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}

#: What each operation is, by (view name, method): id, summary, description.
OPERATIONS = {
    ("UploadCreateView", "POST"): (
        "files_upload_create",
        "Create a resumable upload (tus 1.0.0 creation)",
        "Declare a file of `Upload-Length` bytes whose whole-file `sha256` (64 hex digits, "
        "base64-encoded as tus requires) is in `Upload-Metadata`, with optional `filename` "
        "and `content_type`. Answers `201` with the upload's `Location`. Ask `HEAD "
        "files/sha256/<hex>` first: a file the tenant stores needs no upload.",
    ),
    ("UploadView", "PATCH"): (
        "files_upload_patch",
        "Send the next chunk of an upload",
        "The bytes from `Upload-Offset` (the upload's current offset, else `409`), as "
        "`application/offset+octet-stream`, optionally with `Upload-Checksum: sha256 "
        "<base64>`. The last chunk verifies the whole file's `sha256` (`460` and the upload "
        "is gone on a mismatch) and makes the file available.",
    ),
    ("UploadView", "DELETE"): (
        "files_upload_delete",
        "Terminate an upload",
        "The upload and its bytes are gone (`404` after).",
    ),
    ("BlobView", "GET"): (
        "files_download",
        "Download a file of the tenant by its sha256",
        "The bytes with their `Content-Type`, `ETag` and `Content-Length`; `Range` answers "
        "`206`, a matching `If-None-Match` `304`. A digest the tenant does not store is a "
        "`404`, also when another tenant stores it.",
    ),
}


def header(name: str, schema: Any, description: str, **more: Any) -> Any:
    from drf_spectacular.utils import OpenApiParameter

    return OpenApiParameter(name, schema, OpenApiParameter.HEADER, description=description, **more)


def path_parameter(name: str, schema: Any, description: str) -> Any:
    from drf_spectacular.utils import OpenApiParameter

    return OpenApiParameter(name, schema, OpenApiParameter.PATH, description=description)


def tus_resumable(required: bool = True) -> Any:
    return header(
        "Tus-Resumable",
        {"type": "string", "enum": ["1.0.0"]},
        "The tus version, `1.0.0`; another or none is a `412`.",
        required=required,
    )


def error(description: str) -> Any:
    from drf_spectacular.utils import OpenApiResponse

    return OpenApiResponse(ErrorResponseSerializer, description=description)


def common_errors() -> dict[int, Any]:
    return {
        401: error("Not authenticated."),
        403: error("Not allowed (for example: the user belongs to no tenant)."),
        429: error(
            "Throttled (retry after `Retry-After` seconds), or too many uploads in "
            "progress (`too_many_uploads`)."
        ),
    }


def tus_errors() -> dict[int, Any]:
    return {
        **common_errors(),
        400: error(
            "A malformed tus header (`Upload-Length`, `Upload-Metadata`, "
            "`Upload-Offset`, `Upload-Checksum`)."
        ),
        412: error("No or another `Tus-Resumable` than `1.0.0`."),
        413: error("Past `MAX_FILE_BYTES` or past the upload's `Upload-Length`."),
        415: error("Another content type than the one the request takes."),
        460: error(
            "Checksum mismatch: of the chunk (resend it) or of the whole file (the "
            "upload is gone: create a new one)."
        ),
    }


class FilesSchemaMixin(_SchemaBase):
    """drf-spectacular ``AutoSchema`` additions for the files views."""

    def key(self) -> tuple[str, str]:
        return type(self.view).__name__, self.method

    def is_excluded(self) -> bool:
        return self.key() not in OPERATIONS or super().is_excluded()

    def get_operation_id(self) -> str:
        return OPERATIONS[self.key()][0]

    def get_tags(self) -> list[str]:
        return [TAG]

    def get_summary(self) -> str | None:
        return OPERATIONS[self.key()][1]

    def get_description(self) -> str:  # type: ignore[override, unused-ignore]
        return OPERATIONS[self.key()][2]

    def get_request_serializer(self) -> Any:
        from drf_spectacular.types import OpenApiTypes

        if self.key() == ("UploadView", "PATCH"):
            return {"application/offset+octet-stream": OpenApiTypes.BINARY}
        return None

    def get_response_serializers(self) -> Any:
        from drf_spectacular.types import OpenApiTypes
        from drf_spectacular.utils import OpenApiResponse

        view, method = self.key()
        if view == "BlobView":
            return {
                **common_errors(),
                200: OpenApiResponse(OpenApiTypes.BINARY, description="The file's bytes."),
                206: OpenApiResponse(OpenApiTypes.BINARY, description="The bytes of `Range`."),
                304: OpenApiResponse(description="Not modified (`If-None-Match`)."),
                404: error("No such file in the user's tenant."),
                416: error("`Range` cannot be satisfied."),
            }
        answers = tus_errors()
        if method == "POST":
            return {**answers, 201: OpenApiResponse(description="Created: see `Location`.")}
        answers[404] = error("No such upload of this user (or it expired).")
        if method == "PATCH":
            answers[409] = error("`Upload-Offset` is not the upload's offset: `HEAD` it.")
            answers[423] = error("Another `PATCH` to this upload is running.")
        return {**answers, 204: OpenApiResponse(description="Done.")}

    def get_override_parameters(self) -> list[Any]:
        from drf_spectacular.types import OpenApiTypes

        view, method = self.key()
        retry = header("Retry-After", OpenApiTypes.INT, "Seconds to wait.", response=[429])
        if view == "BlobView":
            return [
                path_parameter("sha256", SHA256_HEX, "The file's sha256, 64 hex digits."),
                header("Range", OpenApiTypes.STR, "`bytes=<start>-<end>`: a part (`206`)."),
                header("If-None-Match", OpenApiTypes.STR, "The `ETag` held: `304` if same."),
                header("ETag", OpenApiTypes.STR, '`"<sha256>"`.', response=[200, 206, 304]),
                retry,
            ]
        params = [tus_resumable(), retry]
        if view == "UploadView":
            params.append(path_parameter("upload_id", OpenApiTypes.UUID, "The upload's id."))
        device = header("X-Device-Id", OpenApiTypes.STR, "The device, for its rates.")
        expires = "When the incomplete upload expires (an HTTP date)."
        if method == "POST":
            return [
                *params,
                device,
                header(
                    "Upload-Length",
                    {"type": "integer", "minimum": 0},
                    "The file's size in bytes.",
                    required=True,
                ),
                header(
                    "Upload-Metadata",
                    OpenApiTypes.STR,
                    "`sha256 <base64 of the hex digest>[,filename <b64>][,content_type <b64>]`.",
                    required=True,
                ),
                header("Location", OpenApiTypes.URI, "The upload's URL.", response=[201]),
                header("Upload-Expires", OpenApiTypes.STR, expires, response=[201]),
            ]
        if method == "PATCH":
            return [
                *params,
                device,
                header(
                    "Upload-Offset",
                    {"type": "integer", "minimum": 0},
                    "Where the chunk starts: the upload's offset.",
                    required=True,
                ),
                header("Upload-Checksum", OpenApiTypes.STR, "`sha256 <base64 of the digest>`."),
                header(
                    "Upload-Offset",
                    {"type": "integer", "minimum": 0},
                    "The upload's offset after the chunk.",
                    response=[204],
                ),
            ]
        return [*params, device]
