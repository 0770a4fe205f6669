"""Misconfiguration fails at start-up with a message naming the domain and the option."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import models
from django.db.models import Q
from django.test import override_settings

from django_mobile_sync.checks import check_domains, check_pull_indexes
from django_mobile_sync.conf import DOCS_URL
from django_mobile_sync.domains import SyncDomain
from tests.helpers.docs import DOCS, slugs
from tests.testapp.models import Task

BASE: dict[str, Any] = {
    "name": "tasks",
    "model": "testapp.Task",
    "tenant_fields": ["org"],
    "scope": "tests.testapp.scopes.org_scope",
}


def errors_for(**options):
    with override_settings(MOBILE_SYNC={"DOMAINS": [SyncDomain(**{**BASE, **options})]}):
        return [(e.id, f"{e.msg} {e.hint or ''}") for e in check_domains()]


@pytest.mark.django_db(databases="__all__")  # Django 6 runs database checks on every alias
def test_valid_configuration_has_no_errors():
    assert check_domains() == []
    call_command("check", stdout=io.StringIO())


def index_warnings_for(**options):
    with override_settings(MOBILE_SYNC={"DOMAINS": [SyncDomain(**{**BASE, **options})]}):
        return check_pull_indexes()


def test_no_index_warning_when_the_model_has_the_pull_index():
    # testapp.Task has Index(fields=["org", "change_seq", "id"]).
    assert index_warnings_for() == []
    # Unscoped: the mixin's own index on change_seq serves pulls.
    assert index_warnings_for(name="notes", model="testapp.Note", tenant_fields=[]) == []


def test_warns_when_no_index_starts_with_the_tenant_fields_then_change_seq():
    # (org, change_seq, id) does not serve a tenant of (org, title): the pull filters on
    # both, then orders by change_seq.
    [warning] = index_warnings_for(tenant_fields=["org", "title"])
    assert warning.id == "django_mobile_sync.W001"
    assert "(org, title, change_seq)" in warning.msg and "'tasks'" in warning.msg
    assert 'fields=["org", "title", "change_seq", "id"]' in warning.hint


@pytest.mark.parametrize(
    ("options", "code", "words"),
    [
        ({"model": "testapp.Nope"}, "E003", ["'tasks'", "model", "testapp.Nope"]),
        ({"model": "testapp.Org"}, "E004", ["SyncableModelMixin"]),
        ({"fields": ["title", "colour"]}, "E005", ["fields", "colour"]),
        ({"server_owned_fields": ["bogus"]}, "E005", ["server_owned_fields", "bogus"]),
        ({"resolver": "coin_flip"}, "E006", ["resolver", "coin_flip"]),
        ({"resolver": "nowhere.Resolver"}, "E006", ["resolver", "Could not import"]),
        ({"serializer": "tests.nope.Serializer"}, "E006", ["serializer"]),
        ({"scope": "tests.nope.scope"}, "E006", ["scope"]),
        (
            {"status_field": "status", "transitions": {"todo": ["flying"]}},
            "E007",
            ["transitions", "flying"],
        ),
        ({"transitions": {"todo": ["doing"]}}, "E007", ["status_field"]),
        ({"name": "Bad Name!"}, "E002", ["URL segment"]),
        ({"scope": None}, "E008", ["scope"]),
        ({"tenant_fields": []}, "E009", ["UniqueConstraint", "mobile_id"]),
        ({"filters": {"limit": "priority"}}, "E011", ["filters", "limit"]),
        ({"resolver": "last_write_wins"}, "E012", ["client_timestamp_field"]),
    ],
)
def test_misconfiguration_is_reported(options, code, words):
    found = errors_for(**options)
    assert found, options
    ids = [i for i, _ in found]
    assert f"django_mobile_sync.{code}" in ids, found
    message = " ".join(m for _, m in found)
    for word in words:
        assert word in message


def checks_for(**options):
    with override_settings(MOBILE_SYNC={"DOMAINS": [SyncDomain(**{**BASE, **options})]}):
        return check_domains()


def test_e009_hints_the_constraint_to_paste():
    [error] = checks_for(tenant_fields=[])  # Task is unique on (org, mobile_id) only
    assert error.id == "django_mobile_sync.E009"
    assert error.hint == (
        "Add models.UniqueConstraint(fields=['mobile_id'], name='testapp_task_mobile_id') "
        "to Task.Meta.constraints."
    )


def test_e006_names_the_option_once():
    [error] = checks_for(resolver="nowhere.Resolver")
    assert error.id == "django_mobile_sync.E006"
    option = "MOBILE_SYNC['DOMAINS']['tasks'].resolver"
    assert error.msg.startswith(f"{option}: Could not import 'nowhere.Resolver': ")
    assert error.msg.count(option) == 1, error.msg


def test_a_domain_error_is_reported_on_its_model():
    """``manage.py check`` prints ``testapp.Task: (django_mobile_sync.E005) ...``, not
    ``?: ...``; a model that does not resolve leaves the object out."""
    [error] = checks_for(fields=["title", "colour"])
    assert error.obj is Task
    assert str(error).startswith("testapp.Task: (django_mobile_sync.E005) ")
    [unknown] = checks_for(model="testapp.Nope")
    assert unknown.id == "django_mobile_sync.E003" and unknown.obj is None


def test_duplicate_domain_names():
    domains = [SyncDomain(**BASE), SyncDomain(**BASE)]
    with override_settings(MOBILE_SYNC={"DOMAINS": domains}):
        assert "django_mobile_sync.E001" in [e.id for e in check_domains()]


def test_unknown_option_in_dict_declaration():
    with override_settings(MOBILE_SYNC={"DOMAINS": [{**BASE, "colour": "red"}]}):
        [error] = check_domains()
    assert error.id == "django_mobile_sync.E010" and "colour" in error.msg


#: How E010 names a declaration appended to the test settings' domains: by its position.
APPENDED = f"DOMAINS'][{len(settings.MOBILE_SYNC['DOMAINS'])}]"


@pytest.mark.parametrize(
    ("declaration", "words"),
    [
        # A typo: the domain, the key and the option it was meant to be.
        (
            {"name": "jobs", "model": "testapp.Note", "scoep": "tests.testapp.scopes.org_scope"},
            ["'jobs'", "'scoep'", "did you mean 'scope'?"],
        ),
        ({"name": "jobs"}, ["'jobs'", "'model'"]),  # a required option missing
        ({"model": "testapp.Note"}, [APPENDED, "'name'"]),  # no name: its position
        ({"name": "jobs", "model": "testapp.Note", 3: "x"}, ["'jobs'", "3"]),
        ("notes", [APPENDED, "a SyncDomain or a dict"]),  # neither
    ],
    ids=["typo", "no-model", "no-name", "not-a-string-key", "not-a-dict"],
)
def test_a_broken_dict_domain_is_e010_in_manage_py_check(tmp_path, declaration, words):
    """As a user meets it: ``manage.py check`` in a project whose URLconf includes the
    library's URLs (Django imports it for its own URL checks, before the library's)."""
    root = Path(__file__).resolve().parents[2]
    (tmp_path / "broken_settings.py").write_text(
        "from tests.settings import *  # noqa: F403\n"
        "MOBILE_SYNC = {**MOBILE_SYNC, 'DOMAINS': [*MOBILE_SYNC['DOMAINS'], "
        f"{declaration!r}]}}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "django", "check"],
        cwd=root,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "broken_settings",
            "PYTHONPATH": os.pathsep.join([str(tmp_path), str(root)]),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output
    assert "django_mobile_sync.E010" in output
    for word in words:
        assert word in output, (word, output)


@pytest.mark.django_db
def test_makemigrations_is_clean():
    out = io.StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)


@pytest.mark.parametrize(
    ("tenant", "indexes", "constraints", "unique_together", "serves"),
    [
        (["org"], [models.Index(fields=["change_seq", "org"], name="i")], [], [], False),
        (["org"], [models.Index(fields=["org", "-change_seq"], name="i")], [], [], True),
        (
            ["org"],
            [models.Index(fields=["org", "change_seq"], condition=Q(deleted=False), name="i")],
            [],
            [],
            False,  # a partial index does not serve pulls, which read tombstones too
        ),
        (["org"], [models.Index(fields=["org", "nope"], name="i")], [], [], False),
        (
            ["org"],
            [],
            [models.UniqueConstraint(fields=["org", "change_seq", "id"], name="u")],
            [],
            True,
        ),
        (["org"], [], [], [("org", "change_seq")], True),
        (
            ["title", "org"],
            [models.Index(fields=["org", "title", "change_seq"], name="i")],
            [],
            [],
            True,  # the tenant fields in any order
        ),
    ],
)
def test_which_indexes_serve_pulls(
    monkeypatch, tenant, indexes, constraints, unique_together, serves
):
    monkeypatch.setattr(Task._meta, "indexes", indexes)
    monkeypatch.setattr(Task._meta, "constraints", constraints)
    monkeypatch.setattr(Task._meta, "unique_together", unique_together)
    warnings = index_warnings_for(tenant_fields=tenant)
    assert [w.id for w in warnings] == ([] if serves else ["django_mobile_sync.W001"])


def check_fails_with(code: str, **mobile_sync: object) -> str:
    """Run ``manage.py check`` with these settings; the message and hint of ``code``."""
    with (
        override_settings(MOBILE_SYNC={"DOMAINS": [SyncDomain(**BASE)], **mobile_sync}),
        pytest.raises(SystemCheckError) as failed,
    ):
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())
    report = str(failed.value)
    assert f"django_mobile_sync.{code}" in report, report
    [line] = [line for line in report.splitlines() if f"django_mobile_sync.{code}" in line]
    hint = report.split(line, 1)[1].split("\n", 2)[1]
    assert "docs/" not in (line + hint).replace(DOCS_URL, ""), "a repository path in a message"
    return f"{line} {hint}"


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize(
    ("settings", "code", "words"),
    [
        ({"MAX_BATCH_SIZES": 5}, "E013", ["MAX_BATCH_SIZES", "Did you mean 'MAX_BATCH_SIZE'"]),
        ({"MAX_BATCH_SIZE": "abc"}, "E014", ["MAX_BATCH_SIZE", "'abc'", "whole number"]),
        ({"TOMBSTONE_RETENTION": 90}, "E014", ["TOMBSTONE_RETENTION", "timedelta"]),
        ({"PULL_HORIZON": "galaxy"}, "E014", ["PULL_HORIZON", "'database'"]),
        ({"THROTTLE_RATES": {"user": "abc"}}, "E015", ["THROTTLE_RATES", "'user'", "100/hour"]),
        ({"THROTTLE_RATES": {"device": "5/fortnight"}}, "E015", ["'device'", "fortnight"]),
        ({"THROTTLE_CLASSES": ["nowhere.Throttle"]}, "E016", ["THROTTLE_CLASSES", "nowhere"]),
        ({"DEFAULT_SERVICE_CLASS": "tests.nope.Service"}, "E016", ["DEFAULT_SERVICE_CLASS"]),
        ({"DEFAULT_RESOLVER": "coin_flip"}, "E016", ["DEFAULT_RESOLVER", "coin_flip"]),
    ],
)
def test_every_setting_is_checked(settings, code, words):
    report = check_fails_with(code, **settings)
    for word in words:
        assert word in report, report


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize(
    ("options", "code", "words"),
    [
        ({"filters": {"colour": "colour"}}, "E017", ["filters", "'colour'", "Task"]),
        ({"filters": {"due": "due_at__fortnight"}}, "E017", ["'due'", "fortnight"]),
        ({"throttle_rates": {"user": "often"}}, "E015", ["throttle_rates", "'often'"]),
        ({"permission_classes": ["nope.Allow"]}, "E006", ["permission_classes", "nope"]),
    ],
)
def test_domain_options_checked_by_manage_py_check(options, code, words):
    domain = SyncDomain(**{**BASE, **options})
    with (
        override_settings(MOBILE_SYNC={"DOMAINS": [domain]}),
        pytest.raises(SystemCheckError) as failed,
    ):
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())
    report = str(failed.value)
    assert f"django_mobile_sync.{code}" in report
    for word in words:
        assert word in report, report


def test_a_filter_lookup_that_resolves_passes():
    assert errors_for(filters={"due": "due_at__date__gte", "status": "status__in"}) == []


def test_every_documentation_link_of_a_check_names_a_page_and_a_heading():
    from django_mobile_sync import conf

    links = set()
    for path in (Path(conf.__file__).parent).rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        links |= set(re.findall(r"\{DOCS_URL\}([\w/-]+\.md)(?:#([\w-]+))?", text))
    links |= {("settings.md", key.lower()) for key in conf.DEFAULTS}  # setting_hint()
    assert len(links) > 5
    for page, anchor in links:
        assert (DOCS / page).is_file(), page
        assert not anchor or anchor in slugs(DOCS / page), f"{page}#{anchor}"
