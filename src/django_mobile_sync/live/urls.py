"""The live stream, served by ``include("django_mobile_sync.urls")`` under the library's
prefix and namespace (``mobile_sync:stream``)."""

from __future__ import annotations

from django.urls import path, re_path

from django_mobile_sync.views import missing_slash

from .views import stream_view

urlpatterns = [
    path("stream/", stream_view, name="stream"),
    re_path(r"^(?P<endpoint>stream)$", missing_slash),
]
