"""The public API: what users import, name in settings or subclass.

The names of ``django_mobile_sync.__all__`` resolve (lazily: importing the package imports
no model, so a settings file can), and the import paths users already have keep working.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import django_mobile_sync
from tests.helpers.imports import ROOT

#: Import paths named in projects' code and settings (docs/, the example project).
DOCUMENTED_PATHS = [
    "django_mobile_sync.models.SyncableModelMixin",
    "django_mobile_sync.models.TextMobileIdField",
    "django_mobile_sync.models.RewriteHexUUIDs",
    "django_mobile_sync.domains.SyncDomain",
    "django_mobile_sync.service.SyncService",
    "django_mobile_sync.resolvers.ConflictResolver",
    "django_mobile_sync.serializers.SyncModelSerializer",
    "django_mobile_sync.serializers.format_timestamp",
    "django_mobile_sync.throttling.PushUserRateThrottle",
    "django_mobile_sync.views.PushView",
    "django_mobile_sync.urls.urlpatterns",
    "django_mobile_sync.signals.batch_synced",
    "django_mobile_sync.conf.sync_settings",
    "django_mobile_sync.engine.PushBatch",
    "django_mobile_sync.engine.ChangeFeed",
]


@pytest.mark.parametrize("name", django_mobile_sync.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(django_mobile_sync, name) is not None
    assert name in dir(django_mobile_sync)


def test_a_public_name_is_the_object_of_its_module() -> None:
    from django_mobile_sync.domains import SyncDomain
    from django_mobile_sync.engine import FEED_START, PushBatch

    assert django_mobile_sync.SyncDomain is SyncDomain
    assert django_mobile_sync.PushBatch is PushBatch
    assert django_mobile_sync.FEED_START is FEED_START


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        django_mobile_sync.Nope  # noqa: B018


@pytest.mark.parametrize("path", DOCUMENTED_PATHS)
def test_the_import_paths_users_have_keep_working(path: str) -> None:
    module, _, name = path.rpartition(".")
    assert getattr(importlib.import_module(module), name) is not None


def test_importing_the_package_imports_no_model() -> None:
    """A settings file imports ``django_mobile_sync`` (and ``.domains``) before Django is set
    up: neither may import a model, nor the rest of the library."""
    code = (
        "import sys, django_mobile_sync, django_mobile_sync.domains;"
        "loaded = sorted(m for m in sys.modules if m.startswith('django_mobile_sync'));"
        "print(' '.join(loaded))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.split() == [
        "django_mobile_sync",
        "django_mobile_sync.conf",
        "django_mobile_sync.domains",
    ]
