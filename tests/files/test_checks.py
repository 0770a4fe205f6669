"""The files app's system check ``E023``: a domain with file references must use the files'
tenant, ``FILES_SCOPE`` or by default the first declared domain's scope
(docs/files.md#tenancy)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_mobile_sync.files.checks import check_files_scope
from tests.files.conftest import SCANS

#: Ann's scope, the same dict as ``org_scope`` gives, by another callable.
OTHER_SCOPE = "tests.files.test_checks.same_tenant_by_another_callable"


def same_tenant_by_another_callable(request: Any) -> dict[str, Any]:
    from tests.testapp.scopes import org_scope

    return dict(org_scope(request))


def with_domains(settings: Any, *domains: Any, **more: Any) -> None:
    settings.MOBILE_SYNC = {
        **settings.MOBILE_SYNC,
        "DOMAINS": [*settings.MOBILE_SYNC["DOMAINS"], *domains],
        **more,
    }


def ids(settings: Any) -> list[str | None]:
    return [message.id for message in check_files_scope()]


def test_a_domain_with_the_files_scope_passes(scans: Any, settings: Any) -> None:
    assert ids(settings) == []
    with_domains(settings, FILES_SCOPE="tests.testapp.scopes.org_scope")
    assert ids(settings) == []


def test_a_domain_with_another_scope_than_the_first_domains_is_an_error(settings: Any) -> None:
    with_domains(settings, replace(SCANS, scope=OTHER_SCOPE))
    [error] = check_files_scope()
    assert error.id == "django_mobile_sync.E023"
    assert "'scans'" in error.msg and "file references (file)" in error.msg
    assert "the domain 'tasks'" in error.msg and "files.md#tenancy" in (error.hint or "")


def test_a_files_scope_other_than_the_domains_is_an_error(scans: Any, settings: Any) -> None:
    with_domains(settings, FILES_SCOPE=OTHER_SCOPE)
    [error] = check_files_scope()
    assert error.id == "django_mobile_sync.E023" and "FILES_SCOPE" in error.msg
    # the domains without file references may have any scope
    assert all("'tasks'" not in message.msg for message in check_files_scope())


def test_a_domain_without_a_scope_is_an_error(settings: Any) -> None:
    with_domains(settings, replace(SCANS, tenant_fields=[], scope=None))
    assert ids(settings) == ["django_mobile_sync.E023"]


def test_the_error_stops_manage_py_check(settings: Any) -> None:
    with_domains(settings, replace(SCANS, scope=OTHER_SCOPE))
    try:
        call_command("check")
    except SystemCheckError as exc:
        assert "django_mobile_sync.E023" in str(exc)
    else:
        raise AssertionError("manage.py check passed")


def test_a_files_scope_that_does_not_import_is_an_error(settings: Any) -> None:
    with_domains(settings, SCANS, FILES_SCOPE="tests.nowhere.scope")
    [error] = check_files_scope()
    assert error.id == "django_mobile_sync.E023" and "tests.nowhere.scope" in error.msg
