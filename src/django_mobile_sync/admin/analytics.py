"""The sync analytics admin page: ``admin/django_mobile_sync/syncanalytics/``.

Listed on the admin's site index, app index and navigation sidebar as *Sync analytics* (which
the sidebar highlights on the page), and linked from the batch log; the page's first address,
``syncbatch/analytics/``, redirects to it. Rendered on the server (the chart is inline SVG):
no JavaScript, no external CDN. The numbers come from :mod:`django_mobile_sync.ops.analytics`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.apps import AppConfig, apps
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from ..domains import get_domains
from ..models import SyncBatch
from ..ops.analytics import DEFAULT_WINDOW, STATUSES, WINDOWS, build_report

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    AdminBase = admin.ModelAdmin[Any]
else:
    AdminBase = admin.ModelAdmin

URL_NAME = "django_mobile_sync_analytics"
#: The page's first address, under the batch log: a redirect now.
OLD_URL_NAME = "django_mobile_sync_analytics_old"


class AnalyticsForm(forms.Form):
    window = forms.ChoiceField(choices=[(k, k) for k in WINDOWS], initial=DEFAULT_WINDOW)
    domain = forms.ChoiceField(required=False)
    database = forms.ChoiceField(required=False, initial="default")

    def __init__(self, *args: Any, domains: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["domain"].choices = [("", "all domains"), *((d, d) for d in domains)]  # type: ignore[attr-defined]
        self.fields["database"].choices = [(a, a) for a in settings.DATABASES]  # type: ignore[attr-defined]


def analytics_urls(model_admin: ModelAdmin[Any]) -> list[URLPattern]:
    """URL patterns to add to the batch log's ``ModelAdmin.get_urls()``: its first address
    (``syncbatch/analytics/``) redirects to the page, query string kept."""

    def moved(request: HttpRequest) -> HttpResponseRedirect:
        return redirect_to_page(model_admin, request)

    return [path("analytics/", model_admin.admin_site.admin_view(moved), name=OLD_URL_NAME)]


def redirect_to_page(model_admin: ModelAdmin[Any], request: HttpRequest) -> HttpResponseRedirect:
    url = reverse(f"{model_admin.admin_site.name}:{URL_NAME}")
    query = request.META.get("QUERY_STRING", "")
    return HttpResponseRedirect(f"{url}?{query}" if query else url)


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


# -- an entry on the admin's index pages ----------------------------------------------------
#
# The admin lists registered models only. A proxy model would need a migration for a page
# that stores nothing, so the entry is a stand-in that has just the ``_meta`` the admin reads
# to list it (the way django-constance lists its settings page).


class _AnalyticsOptions:
    app_label = "django_mobile_sync"
    model_name = "syncanalytics"
    object_name = "SyncAnalytics"
    verbose_name = "sync analytics"
    verbose_name_plural = "sync analytics"
    abstract = False
    swapped = None
    is_composite_pk = False

    @property
    def app_config(self) -> AppConfig:
        return apps.get_app_config(self.app_label)

    @property
    def label(self) -> str:
        return f"{self.app_label}.{self.object_name}"

    @property
    def label_lower(self) -> str:
        return f"{self.app_label}.{self.model_name}"


class SyncAnalytics:
    """*Sync analytics* on the admin's index pages (not a model: nothing is stored)."""

    _meta = _AnalyticsOptions()


class SyncAnalyticsAdmin(AdminBase):
    """Lists *Sync analytics* for users who may view the batch log; the entry's URL is the
    analytics page (so the admin's navigation highlights it there)."""

    def _can_view_batches(self, request: HttpRequest) -> bool:
        opts = SyncBatch._meta
        return any(
            request.user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}")
            for action in ("view", "change")
        )

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._can_view_batches(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        def page(request: HttpRequest) -> TemplateResponse:
            if not self._can_view_batches(request):
                raise PermissionDenied
            return analytics_view(self.admin_site.get_model_admin(SyncBatch), request)

        view = self.admin_site.admin_view(page)
        changelist = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", view, name=URL_NAME), path("", view, name=changelist)]
