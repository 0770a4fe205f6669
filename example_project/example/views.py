"""Project-level views."""

from __future__ import annotations

import logging

from django.contrib import admin
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from django_mobile_sync.conf import sync_settings
from django_mobile_sync.domains import get_domains

logger = logging.getLogger(__name__)


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    """What the project serves: JSON for API clients, a page of links for browsers."""
    links = {
        "api_docs": ("API documentation (Swagger UI)", reverse("docs")),
        "api_schema": ("OpenAPI schema", reverse("schema")),
        "admin": ("Admin: conflicts, batch log, sync analytics", reverse("admin:index")),
        "health": ("Health check", reverse("health")),
    }
    domains = {
        name: {
            "push": reverse("mobile_sync:sync", kwargs={"domain": name}),
            "pull": reverse("mobile_sync:changes", kwargs={"domain": name}),
        }
        for name in get_domains()
    }
    several = {
        "push": reverse("mobile_sync:multi-sync"),
        "pull": reverse("mobile_sync:multi-changes"),
    }
    watermelon = reverse("mobile_sync:watermelon")
    tables = ", ".join(sync_settings.WATERMELON)
    if request.get_preferred_type(["application/json", "text/html"]) == "text/html":
        context = {
            **admin.site.each_context(request),
            "title": "django-mobile-sync example",
            "links": list(links.values()),
            "domains": [(name, d["push"], d["pull"]) for name, d in domains.items()],
            "multi_push": several["push"],
            "multi_pull": several["pull"],
            "tables": tables,
            "watermelon": watermelon,
        }
        return render(request, "example/index.html", context)
    return JsonResponse(
        {
            "name": "django-mobile-sync example",
            "links": {key: request.build_absolute_uri(url) for key, (_, url) in links.items()},
            "sync_domains": {
                name: {kind: request.build_absolute_uri(url) for kind, url in d.items()}
                for name, d in domains.items()
            },
            "several_domains": {
                kind: request.build_absolute_uri(url) for kind, url in several.items()
            },
            "watermelon": request.build_absolute_uri(watermelon),
        }
    )


@never_cache
@require_safe
def health(request: HttpRequest) -> JsonResponse:
    """200 when the database answers ``SELECT 1``, 503 otherwise (for load balancers)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        logger.warning("Health check: the database does not answer: %s", exc)
        return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok", "database": connection.vendor})
