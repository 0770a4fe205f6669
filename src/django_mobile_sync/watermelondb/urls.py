"""The WatermelonDB endpoint, served by ``include("django_mobile_sync.urls")`` under the
library's prefix and namespace (``mobile_sync:watermelon``)."""

from __future__ import annotations

from django.urls import path, re_path

from django_mobile_sync.views import missing_slash

from .views import WatermelonView

urlpatterns = [
    path("watermelon/", WatermelonView.as_view(), name="watermelon"),
    re_path(r"^(?P<endpoint>watermelon)$", missing_slash),
]
