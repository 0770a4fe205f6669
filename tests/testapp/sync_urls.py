"""The URLconf of a stand-in optional app (``AppConfig.sync_urls``), for
``tests/library/test_extensions.py``."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path


def probe(request: HttpRequest) -> HttpResponse:
    return HttpResponse("probe")


urlpatterns = [path("probe/", probe, name="probe")]
