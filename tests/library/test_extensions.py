"""Optional apps of the library (a client protocol such as ``django_mobile_sync.watermelondb``)
plug in without an edit of the core: their ``MOBILE_SYNC`` keys through
``conf.extend_defaults()``, their URLs through ``AppConfig.sync_urls``, their checks from
their ``ready()`` (docs/architecture.md, "Where each extension point sits")."""

from __future__ import annotations

import io
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings
from django.urls import reverse

from django_mobile_sync import conf, urls
from django_mobile_sync.checks import check_settings
from django_mobile_sync.watermelondb import DEFAULTS as WATERMELON_DEFAULTS


@pytest.fixture
def defaults() -> Iterator[dict[str, Any]]:
    """``conf.DEFAULTS``, as it was again after the test."""
    before = dict(conf.DEFAULTS)
    yield conf.DEFAULTS
    conf.DEFAULTS.clear()
    conf.DEFAULTS.update(before)


def test_an_optional_apps_keys_read_like_the_librarys(defaults: dict[str, Any]) -> None:
    conf.extend_defaults({"LIVE_HEARTBEAT_SECONDS": 15})
    assert conf.sync_settings.LIVE_HEARTBEAT_SECONDS == 15
    with override_settings(MOBILE_SYNC={"LIVE_HEARTBEAT_SECONDS": 5}):
        assert conf.sync_settings.LIVE_HEARTBEAT_SECONDS == 5
        assert check_settings() == []  # E013 knows the key


def test_a_key_of_no_installed_app_is_still_unknown() -> None:
    with override_settings(MOBILE_SYNC={"LIVE_HEARTBEAT_SECONDS": 5}):
        [error] = check_settings()
    assert error.id == "django_mobile_sync.E013"
    with pytest.raises(AttributeError):
        conf.sync_settings.LIVE_HEARTBEAT_SECONDS  # noqa: B018


def test_a_key_the_library_has_is_refused(defaults: dict[str, Any]) -> None:
    with pytest.raises(ImproperlyConfigured, match="is a setting of django-mobile-sync itself"):
        conf.extend_defaults({"MAX_BATCH_SIZE": 5})
    assert defaults["MAX_BATCH_SIZE"] == 1000


def test_declaring_a_key_again_changes_nothing_unless_its_default_differs(
    defaults: dict[str, Any],
) -> None:
    conf.extend_defaults({"FILES_MAX_BYTES": 100})
    conf.extend_defaults({"FILES_MAX_BYTES": 100})  # ready() run twice
    with pytest.raises(ImproperlyConfigured, match="declared by two optional apps"):
        conf.extend_defaults({"FILES_MAX_BYTES": 200})
    assert defaults["FILES_MAX_BYTES"] == 100


def test_the_watermelondb_app_declared_its_keys() -> None:
    for key, value in WATERMELON_DEFAULTS.items():
        assert key not in conf.LIBRARY_KEYS
        assert conf.DEFAULTS[key] == value


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("WATERMELON", "tasks", ["table names to domain names"]),
        ("WATERMELON_MAX_PUSH_RECORDS", 0, ["whole number of at least 1"]),
    ],
)
def test_the_optional_app_checks_its_own_keys(key: str, value: Any, words: list[str]) -> None:
    with override_settings(MOBILE_SYNC={key: value}), pytest.raises(SystemCheckError) as failed:
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())
    report = str(failed.value)
    assert f"(django_mobile_sync.E014) MOBILE_SYNC[{key!r}]" in report, report
    for word in words:
        assert word in report


def test_the_library_serves_the_urls_of_every_app_with_sync_urls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert reverse("mobile_sync:watermelon") == "/api/sync/watermelon/"
    stub = SimpleNamespace(sync_urls="tests.testapp.sync_urls")
    monkeypatch.setattr(apps, "get_app_configs", lambda: [*apps.app_configs.values(), stub])
    routes = [str(pattern.pattern) for pattern in urls.build_urlpatterns()]
    assert "probe/" in routes and "watermelon/" in routes
    assert routes.index("probe/") < routes.index("<str:domain>/sync/")  # before the fallbacks


def test_without_an_app_with_sync_urls_there_is_no_such_route(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    core = [config for config in apps.get_app_configs() if not hasattr(config, "sync_urls")]
    monkeypatch.setattr(apps, "get_app_configs", lambda: core)
    routes = [str(pattern.pattern) for pattern in urls.build_urlpatterns()]
    assert "watermelon/" not in routes
