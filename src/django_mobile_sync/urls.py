"""``include("django_mobile_sync.urls")``: push and changes endpoints of every domain, and the
multi-domain ones (``sync/``, ``changes/``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt

from .domains import get_domains
from .multi import MultiChangesView, MultiPushView
from .views import ChangesView, PushView, sync_views
from .watermelon import WatermelonView

app_name = "mobile_sync"


@csrf_exempt
def missing_slash(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    """An endpoint's URL without its trailing slash.

    Django's ``APPEND_SLASH`` would answer a ``301`` with an HTML body, which a device's HTTP
    client follows as a ``GET`` (dropping the push) or cannot read; a push gets a JSON ``404``
    naming the right URL instead. ``GET`` and ``HEAD`` are still redirected under
    ``APPEND_SLASH``, query string included.
    """
    target = request.get_full_path(force_append_slash=True)
    if request.method in ("GET", "HEAD") and settings.APPEND_SLASH:
        return HttpResponsePermanentRedirect(target)
    return JsonResponse(
        {
            "detail": f"This URL needs a trailing slash: {request.method} {target}",
            "code": "missing_trailing_slash",
        },
        status=404,
    )


def declared_names() -> list[str]:
    """The names of the declared domains; none while ``DOMAINS`` is misdeclared.

    Django imports the URLconf for its own system checks, before the library's: raising
    here would end ``manage.py check`` with a traceback instead of the library's check
    naming the problem (``E010``, ``E014``).
    """
    try:
        return list(get_domains())
    except (ImproperlyConfigured, TypeError):
        return []


def build_urlpatterns() -> list[Any]:
    patterns = [
        path("sync/", MultiPushView.as_view(), name="multi-sync"),
        path("changes/", MultiChangesView.as_view(), name="multi-changes"),
        path("watermelon/", WatermelonView.as_view(), name="watermelon"),
    ]
    for name in declared_names():
        push, changes = sync_views(name)
        patterns += [
            path(f"{name}/sync/", push.as_view(), name=f"{name}-sync"),
            path(f"{name}/changes/", changes.as_view(), name=f"{name}-changes"),
        ]
    # Domains declared later (override_settings) and unknown ones (a JSON 404).
    return [
        *patterns,
        path("<str:domain>/sync/", PushView.as_view(), name="sync"),
        path("<str:domain>/changes/", ChangesView.as_view(), name="changes"),
        re_path(r"^(?:(?P<domain>[^/]+)/)?(?P<endpoint>sync|changes)$", missing_slash),
        re_path(r"^(?P<endpoint>watermelon)$", missing_slash),
    ]


urlpatterns = build_urlpatterns()
