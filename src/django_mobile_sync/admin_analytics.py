"""The sync analytics admin page: ``admin/django_mobile_sync/syncbatch/analytics/``.

Linked from the app's admin index and from the batch log. Rendered on the server (the chart
is inline SVG): no JavaScript, no external CDN. The numbers come from
:mod:`django_mobile_sync.analytics`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from .analytics import DEFAULT_WINDOW, STATUSES, WINDOWS, build_report
from .domains import get_domains

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

URL_NAME = "django_mobile_sync_analytics"


class AnalyticsForm(forms.Form):
    window = forms.ChoiceField(choices=[(k, k) for k in WINDOWS], initial=DEFAULT_WINDOW)
    domain = forms.ChoiceField(required=False)
    database = forms.ChoiceField(initial="default")

    def __init__(self, *args: Any, domains: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["domain"].choices = [("", "all domains"), *((d, d) for d in domains)]  # type: ignore[attr-defined]
        self.fields["database"].choices = [(a, a) for a in settings.DATABASES]  # type: ignore[attr-defined]


def analytics_urls(model_admin: ModelAdmin[Any]) -> list[URLPattern]:
    """URL patterns to add to the batch log's ``ModelAdmin.get_urls()``."""

    def view(request: HttpRequest) -> TemplateResponse:
        return analytics_view(model_admin, request)

    return [path("analytics/", model_admin.admin_site.admin_view(view), name=URL_NAME)]


def analytics_view(model_admin: ModelAdmin[Any], request: HttpRequest) -> TemplateResponse:
    """Per domain over a window: pushes, items by status, rates, durations, devices, chart."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    form = AnalyticsForm(request.GET or None, domains=sorted(get_domains()))
    params = form.cleaned_data if form.is_valid() else {}
    window = params.get("window") or DEFAULT_WINDOW
    using = params.get("database") or "default"
    try:
        report = build_report(WINDOWS[window], domain=params.get("domain") or None, using=using)
    except DatabaseError as exc:  # e.g. an alias where django_mobile_sync is not migrated
        messages.error(request, f"Cannot read the batch log on the database {using!r}: {exc}")
        report = build_report(WINDOWS[window], domain=params.get("domain") or None)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Sync analytics",
        "opts": model_admin.model._meta,
        "form": form,
        "window": window,
        "report": report,
        "statuses": STATUSES,
    }
    return TemplateResponse(request, "admin/django_mobile_sync/analytics.html", context)
