"""URLs: an index, the sync API, health check, OpenAPI schema and docs, and the admin."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .views import health, index

urlpatterns = [
    path("", index, name="index"),
    path("api/v1/sync/", include("django_mobile_sync.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("health/", health, name="health"),
    path("admin/", admin.site.urls),
]
