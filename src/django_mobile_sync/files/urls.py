"""The files endpoints, served by ``include("django_mobile_sync.urls")`` under the library's
prefix and namespace (``mobile_sync:files``, ``mobile_sync:files-upload``,
``mobile_sync:files-blob``)."""

from __future__ import annotations

from django.urls import path

from .views import BlobView, UploadCreateView, UploadView

urlpatterns = [
    path("files/", UploadCreateView.as_view(), name="files"),
    path("files/sha256/<str:sha256>", BlobView.as_view(), name="files-blob"),
    # Any segment, so that a malformed id is the JSON 404 of an unknown upload.
    path("files/<str:upload_id>", UploadView.as_view(), name="files-upload"),
]
