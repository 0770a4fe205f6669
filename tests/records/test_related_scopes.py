"""Foreign keys to models that are not synced accept only targets of the device's scope.

The test app's ``visits`` domain lists ``site`` (a ``Site`` of an org: scoped by the tenant
field ``org`` it shares with the domain) and ``assignee`` (a ``User``: scoped by the domain's
``related_scopes`` callable, the members of the org). Everything goes through HTTP; see
docs/relations.md#foreign-keys-to-models-that-are-not-synced.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.db.models import AutoField, Max
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from django_mobile_sync.checks import check_domains
from django_mobile_sync.domains import SyncDomain
from django_mobile_sync.engine.outcomes import ITEM_CODES, EntryOutcome
from django_mobile_sync.serializers import SyncModelSerializer
from tests.helpers.api import make_user, multi_push, new_id, pull_all, push
from tests.helpers.docs import DOCS, section
from tests.testapp.models import Org, Site, Task, Visit

UNKNOWN = "No record with this id exists in your scope."


def unknown_reference(mobile_id: str, field: str) -> dict[str, Any]:
    """The error item of an entry naming no record of the device's scope in ``field``."""
    return {
        "mobile_id": mobile_id,
        "status": "error",
        "error_message": f"{field}: {UNKNOWN}",
        "field_errors": {field: [UNKNOWN]},
        "code": "unknown_reference",
    }


@pytest.fixture
def site(org: Org) -> Site:
    return Site.objects.create(org=org, name="Plant 1")


@pytest.fixture
def other_site(other_org: Org) -> Site:
    return Site.objects.create(org=other_org, name="Rival plant")


@pytest.fixture
def colleague(org: Org) -> User:
    return make_user("bob", org)


def nowhere(model: Any) -> int:
    """A primary key no row of ``model`` has."""
    return int(model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1000


def test_a_site_and_a_user_of_the_own_tenant_are_accepted_and_pulled_as_keys(
    client, site, colleague
):
    mid = new_id()
    entry = {"mobile_id": mid, "site": site.pk, "assignee": colleague.pk, "note": "pumps"}
    body = push(client, [entry], "visits").json()
    assert [i["status"] for i in body["synced_items"]] == ["created"], body
    visit = Visit.objects.get(mobile_id=mid)
    assert (visit.site, visit.assignee, visit.org) == (site, colleague, site.org)
    [pulled] = pull_all(client, "visits")[0]
    assert (pulled["site"], pulled["assignee"]) == (site.pk, colleague.pk)


@pytest.mark.parametrize("field", ["site", "assignee"])
def test_another_tenants_target_is_an_unknown_reference(client, field, other_site, other_user):
    target = {"site": other_site.pk, "assignee": other_user.pk}[field]
    mid = new_id()
    body = push(client, [{"mobile_id": mid, field: target}], "visits").json()
    assert body["errors"] == [unknown_reference(mid, field)]
    assert body["synced_items"] == []
    assert not Visit.all_objects.filter(mobile_id=mid).exists()


@pytest.mark.parametrize("field", ["site", "assignee"])
def test_a_target_that_exists_nowhere_answers_the_same(client, field, user):
    model = {"site": Site, "assignee": User}[field]
    mid = new_id()
    body = push(client, [{"mobile_id": mid, field: nowhere(model)}], "visits").json()
    assert body["errors"] == [unknown_reference(mid, field)]


def test_a_user_of_no_organisation_is_not_a_user_of_the_tenant(client):
    loner = make_user("loner", None)
    mid = new_id()
    body = push(client, [{"mobile_id": mid, "assignee": loner.pk}], "visits").json()
    assert body["errors"] == [unknown_reference(mid, "assignee")]


def test_an_update_cannot_move_a_record_to_another_tenants_site(client, site, other_site):
    mid = new_id()
    push(client, [{"mobile_id": mid, "site": site.pk}], "visits")
    body = push(client, [{"mobile_id": mid, "version": 1, "site": other_site.pk}], "visits")
    assert body.json()["errors"] == [unknown_reference(mid, "site")]
    assert Visit.objects.get(mobile_id=mid).site == site


def test_the_good_entries_of_a_batch_apply_beside_the_refused_ones(client, site, other_site):
    good, bad = new_id(), new_id()
    entries = [{"mobile_id": bad, "site": other_site.pk}, {"mobile_id": good, "site": site.pk}]
    body = push(client, entries, "visits").json()
    assert body["errors"] == [unknown_reference(bad, "site")]
    assert [(i["mobile_id"], i["status"]) for i in body["synced_items"]] == [(good, "created")]


def test_a_malformed_target_keeps_drfs_own_message(client):
    mid = new_id()
    body = push(client, [{"mobile_id": mid, "site": "the big one"}], "visits").json()
    [error] = body["errors"]
    assert error["field_errors"] == {"site": ["Incorrect type. Expected pk value, received str."]}
    assert "code" not in error


def test_a_multi_domain_push_scopes_the_targets_too(client, site, other_user):
    task, good, bad = new_id(), new_id(), new_id()
    body = multi_push(
        client,
        {
            "tasks": [{"mobile_id": task, "title": "Inspect"}],
            "visits": [
                {"mobile_id": good, "site": site.pk},
                {"mobile_id": bad, "assignee": other_user.pk},
            ],
        },
    ).json()["domains"]
    assert [i["status"] for i in body["tasks"]["synced_items"]] == ["created"]
    assert [i["mobile_id"] for i in body["visits"]["synced_items"]] == [good]
    assert body["visits"]["errors"] == [unknown_reference(bad, "assignee")]
    assert Task.objects.filter(mobile_id=task).exists()


def test_the_other_tenant_is_served_its_own_targets(client_for, other_user, other_site, site):
    mallory = client_for(other_user)
    mine, theirs = new_id(), new_id()
    body = push(mallory, [{"mobile_id": mine, "site": other_site.pk}], "visits").json()
    assert [i["status"] for i in body["synced_items"]] == ["created"]
    body = push(mallory, [{"mobile_id": theirs, "site": site.pk}], "visits").json()
    assert body["errors"] == [unknown_reference(theirs, "site")]


class VisitSerializer(SyncModelSerializer):
    """Lets SyncModelSerializer build ``site`` and ``assignee``."""

    class Meta:
        model = Visit
        fields = ["site", "assignee", "note"]


class UsernameVisitSerializer(SyncModelSerializer):
    """Declares ``assignee`` itself: a user named by username."""

    assignee = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = Visit
        fields = ["site", "assignee", "note"]


@pytest.mark.parametrize("serializer", [VisitSerializer, UsernameVisitSerializer])
def test_a_custom_serializer_scopes_the_targets(
    client, domain_options, serializer, site, colleague, other_site, other_user
):
    path = f"{__name__}.{serializer.__name__}"
    assignee = {VisitSerializer: "pk", UsernameVisitSerializer: "username"}[serializer]
    mine, foreign_site, foreign_user = new_id(), new_id(), new_id()
    entries = [
        {"mobile_id": mine, "site": site.pk, "assignee": getattr(colleague, assignee)},
        {"mobile_id": foreign_site, "site": other_site.pk},
        {"mobile_id": foreign_user, "assignee": getattr(other_user, assignee)},
    ]
    with domain_options("visits", serializer=path):
        body = push(client, entries, "visits").json()
    assert [i["mobile_id"] for i in body["synced_items"]] == [mine], body
    assert body["errors"] == [
        unknown_reference(foreign_site, "site"),
        unknown_reference(foreign_user, "assignee"),
    ]
    assert Visit.objects.get(mobile_id=mine).assignee == colleague


def test_scoping_costs_no_query_per_entry(client, site, colleague):
    """Each entry costs DRF's one lookup per foreign key it sends, and nothing more: the scope
    and the related_scopes callable run once per batch."""
    push(client, [{"mobile_id": new_id(), "site": site.pk, "assignee": colleague.pk}], "visits")

    def counted(n: int) -> int:
        entries = [
            {"mobile_id": new_id(), "site": site.pk, "assignee": colleague.pk} for _ in range(n)
        ]
        with CaptureQueriesContext(connection) as queries:
            body = push(client, entries, "visits").json()
        assert [i["status"] for i in body["synced_items"]] == ["created"] * n, body
        return len(queries)

    columns = [f for f in Visit._meta.concrete_fields if not isinstance(f, AutoField)]
    assert connection.ops.bulk_batch_size(columns, [None] * 20) >= 20  # one INSERT each
    assert counted(20) - counted(10) == 2 * 10


VISITS = {
    "name": "visits",
    "model": "testapp.Visit",
    "fields": ["site", "assignee", "note"],
    "tenant_fields": ["org"],
    "scope": "tests.testapp.scopes.org_scope",
}


def problems(**options: Any) -> list[tuple[str, str, str]]:
    domain = SyncDomain(**{**VISITS, **options})
    with override_settings(MOBILE_SYNC={"DOMAINS": [domain]}):
        return [(str(e.id).split(".")[-1], e.msg, e.hint or "") for e in check_domains()]


def test_a_foreign_key_with_neither_a_shared_tenant_field_nor_a_callable_is_an_error():
    [(check, message, hint)] = problems()
    assert check == "E021"
    assert "MOBILE_SYNC['DOMAINS']['visits'].fields" in message
    assert "'assignee'" in message and "User" in message and "org" in message
    assert "related_scopes" in hint and "org" in hint and "User" in hint


def test_manage_py_check_fails_on_it():
    with (
        override_settings(MOBILE_SYNC={"DOMAINS": [SyncDomain(**VISITS)]}),
        pytest.raises(SystemCheckError) as failed,
    ):
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())
    assert "django_mobile_sync.E021" in str(failed.value)


def test_the_check_passes_with_a_callable_or_without_tenancy():
    assert problems(related_scopes={"assignee": "tests.testapp.scopes.users_of_org"}) == []
    assert problems(fields=["site", "note"]) == []  # Site shares the tenant field org
    assert problems(server_owned_fields=["assignee"]) == []  # never taken from a device
    unscoped = problems(tenant_fields=[], scope=None)
    assert "E021" not in [check for check, _, _ in unscoped], unscoped


@pytest.mark.parametrize(
    ("related_scopes", "check", "words"),
    [
        ({"assignee": "tests.nope.users"}, "E006", ["related_scopes", "tests.nope.users"]),
        (["assignee"], "E006", ["related_scopes", "must be a dict"]),
        (
            {"assignee": "tests.testapp.scopes.users_of_org", "note": "tests.testapp.scopes.x"},
            "E021",
            ["related_scopes['note']", "not a foreign key"],
        ),
    ],
)
def test_related_scopes_are_checked(related_scopes: Any, check: str, words: list[str]) -> None:
    found = problems(related_scopes=related_scopes)
    assert check in [c for c, _, _ in found], found
    text = " ".join(f"{m} {h}" for _, m, h in found)
    for word in words:
        assert word in text, text


def test_the_related_scope_callable_gets_the_queryset_scope_and_request(
    client, domain_options, site
):
    seen: list[tuple[Any, ...]] = []

    def narrow(queryset: Any, scope: Any, request: Any) -> Any:
        seen.append((queryset.model, dict(scope), request.user.username))
        return queryset.filter(member__org=scope["org"])

    with domain_options("visits", related_scopes={"assignee": narrow}):
        push(client, [{"mobile_id": new_id(), "note": "a"} for _ in range(3)], "visits")
    assert seen == [(User, {"org": site.org}, "alice")]  # once for the batch


def test_an_error_keeps_the_item_code_its_validation_error_carries():
    drf = serializers.ValidationError(
        {
            "note": [ErrorDetail("Too long.", code="max_length")],
            "site": [ErrorDetail(UNKNOWN, code="unknown_reference")],
        }
    )
    outcome = EntryOutcome.invalid("m", drf)
    assert (outcome.code, outcome.error_message) == ("unknown_reference", "note: Too long.")
    django = DjangoValidationError({"deleted": DjangoValidationError("Kept.", code="referenced")})
    assert EntryOutcome.invalid("m", django).as_dict()["code"] == "referenced"
    for own in (
        serializers.ValidationError({"note": ["This field is required."]}, code="required"),
        DjangoValidationError("Bad.", code="invalid"),
    ):
        assert "code" not in EntryOutcome.invalid("m", own).as_dict()


def test_the_item_codes_are_the_documented_ones():
    rows = section(DOCS / "protocol.md", "#### Item statuses")
    documented = set(re.findall(r"^\| `(\w+)` \|", rows.split("| item `code` |")[1], re.M))
    assert documented == ITEM_CODES
