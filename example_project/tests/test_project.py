"""The project around the domains: commands, health check, authentication, migrations."""

from __future__ import annotations

import json
import re
import shlex
from io import StringIO
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from django_mobile_sync.domains import get_domains
from field_ops.models import BusinessUnit, Client, Task, UserProfile


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().splitlines()


def test_sync_user_prints_the_token_alone_on_the_last_line(db: Any) -> None:
    lines = run(
        "sync_user", "ravi", "--client", "Acme Facilities", "--bu", "Downtown Tower", "--create"
    )
    user = User.objects.get(username="ravi")
    assert lines[-1] == Token.objects.get(user=user).key
    assert not user.has_usable_password()
    profile = UserProfile.objects.get(user=user)
    assert (profile.client.name, profile.bu.name) == ("Acme Facilities", "Downtown Tower")
    # Reused on a second run: same token, no duplicate tenant.
    assert (
        run("sync_user", "ravi", "--client", "Acme Facilities", "--bu", "Downtown Tower")[-1]
        == lines[-1]
    )
    assert Client.objects.count() == BusinessUnit.objects.count() == 1
    # Another tenant: the user moves, the token stays.
    moved = run(
        "sync_user", "ravi", "--client", "Globex Services", "--bu", "Harbour Depot", "--create"
    )
    assert moved[-1] == lines[-1]
    assert UserProfile.objects.get(user=user).client.name == "Globex Services"


def test_sync_user_says_which_client_and_unit_are_new(db: Any) -> None:
    run("seed_demo")
    assert run("sync_user", "carol", "--client", "Acme Facilities", "--bu", "Downtown Tower")[
        :3
    ] == [
        "Client 'Acme Facilities': exists.",
        "Business unit 'Downtown Tower': exists.",
        "User carol now works for Acme Facilities / Downtown Tower.",
    ]
    assert run("sync_user", "carol", "--client", "acme", "--bu", "north", "--create")[:3] == [
        "Client 'acme': new (existing clients: Acme Facilities, Globex Services; names are "
        "case-sensitive).",
        "Business unit 'north': new (existing units of acme: none).",
        "User carol moved from Acme Facilities / Downtown Tower to acme / north.",
    ]
    assert run("sync_user", "dave", "--client", "Acme Facilities", "--bu", "Uptown", "--create")[
        :2
    ] == [
        "Client 'Acme Facilities': exists.",
        "Business unit 'Uptown': new (existing units of Acme Facilities: Downtown Tower).",
    ]
    # Spaces around a name are not part of it.
    assert run("sync_user", "dave", "--client", " acme ", "--bu", "north ")[:2] == [
        "Client 'acme': exists.",
        "Business unit 'north': exists.",
    ]


def test_sync_user_refuses_an_unknown_client_or_unit_without_create(db: Any) -> None:
    """A typo in a name would start a tenant of its own: without --create it is refused,
    nothing is written, and the message lists what exists."""
    run("seed_demo")
    before = (User.objects.count(), Client.objects.count(), BusinessUnit.objects.count())
    with pytest.raises(CommandError) as unknown_client:
        run("sync_user", "carol", "--client", "Acme Facility", "--bu", "Downtown Tower")
    assert str(unknown_client.value) == (
        "Unknown client 'Acme Facility' (existing clients: Acme Facilities, Globex Services; "
        "names are case-sensitive). Pass --create to create it."
    )
    with pytest.raises(CommandError) as unknown_unit:
        run("sync_user", "carol", "--client", "Acme Facilities", "--bu", "Downtown")
    assert str(unknown_unit.value) == (
        "Unknown business unit 'Downtown' of Acme Facilities (existing units: Downtown "
        "Tower). Pass --create to create it."
    )
    after = (User.objects.count(), Client.objects.count(), BusinessUnit.objects.count())
    assert after == before


def test_sync_user_lists_at_most_twenty_existing_clients(db: Any) -> None:
    Client.objects.bulk_create(Client(name=f"Client {i:02}") for i in range(25))
    lines = run("sync_user", "e", "--client", "New", "--bu", "B", "--create")
    [line] = [x for x in lines if "new (" in x][:1]
    assert line.endswith("Client 19 and 5 more; names are case-sensitive).")


def test_sync_user_token_works(db: Any) -> None:
    token = run("sync_user", "ravi", "--client", "Acme", "--bu", "HQ", "--create")[-1]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/v1/sync/activity/changes/").status_code == 200
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")  # only the Bearer keyword...
    refused = api.get("/api/v1/sync/activity/changes/")
    assert refused.status_code == 401 and refused["WWW-Authenticate"] == "Bearer"
    assert refused.json() == {  # ...and the answer says so
        "detail": "The Authorization header uses the scheme 'Token'; this API expects "
        "'Authorization: Bearer <token>'.",
        "code": "authentication_failed",
    }
    api.credentials(HTTP_AUTHORIZATION="Bearer nope")
    assert api.get("/api/v1/sync/activity/changes/").json()["detail"] == "Invalid token."
    api.credentials()
    missing = api.get("/api/v1/sync/activity/changes/")
    assert missing.status_code == 401 and missing.json()["code"] == "not_authenticated"


def test_user_without_a_tenant_is_refused(db: Any) -> None:
    user = User.objects.create_user("drifter")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {Token.objects.create(user=user).key}")
    response = api.post("/api/v1/sync/activity/sync/", {"entries": []}, format="json")
    assert response.status_code == 403
    assert "sync_user" in response.json()["detail"]


def test_seed_demo_is_idempotent(db: Any) -> None:
    first = run("seed_demo")
    models = {domain.model_class for domain in get_domains().values()}
    counts = {m: m.objects.count() for m in models}
    assert len(counts) == 7 and all(counts.values()), counts  # docs/tutorial.md: every domain
    versions = sorted(Task.objects.values_list("version", flat=True))
    second = run("seed_demo")
    assert {m: m.objects.count() for m in counts} == counts
    assert sorted(Task.objects.values_list("version", flat=True)) == versions
    assert "0 created" in second[0] and "0 already" in first[0]
    assert Client.objects.count() == 2
    assert BusinessUnit.objects.filter(geofence_radius_m__isnull=False).count() == 1
    assert User.objects.count() == 4  # alice, bob, gina and the admin
    login = "Admin login: user 'admin', password 'admin' (for local demos only)."
    assert login in first and login in second
    for model in counts:
        tenants = set(model.objects.values_list("client__name", flat=True))
        assert tenants == {"Acme Facilities", "Globex Services"}


def test_seed_demo_creates_an_admin_login_and_never_resets_it(client: Any, db: Any) -> None:
    run("seed_demo")
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and not hasattr(admin, "profile")
    assert client.login(username="admin", password="admin")
    assert client.get("/admin/django_mobile_sync/syncconflict/").status_code == 200
    admin.set_password("s3cret-enough")
    admin.save()
    again = run("seed_demo")
    assert (
        "Admin login: user 'admin' with the password you gave it "
        "(manage.py changepassword admin sets a new one)." in again
    )
    assert User.objects.get(username="admin").check_password("s3cret-enough")
    assert "Admin: http://127.0.0.1:8000/admin/  user 'admin' with the password you gave it" in (
        "\n".join(run("try_it"))
    )


def test_try_it_prints_working_curl_commands(db: Any) -> None:
    run("seed_demo")
    text = "\n".join(run("try_it", "--port", "8123"))
    push = text[text.index("curl -sS -i -X POST") :].split("\n\n")[0]
    args = shlex.split(push.replace("\\\n", " "))
    assert "http://127.0.0.1:8123/api/v1/sync/activity/sync/" in args
    headers = dict(args[i + 1].split(": ", 1) for i, a in enumerate(args) if a == "-H")
    token = Token.objects.get(user__username="alice").key
    assert headers["Authorization"] == f"Bearer {token}"
    body = json.loads(args[args.index("-d") + 1])
    # The printed request, replayed through the test client, creates a task.
    api = APIClient()
    response = api.post(
        "/api/v1/sync/activity/sync/",
        body,
        format="json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )
    assert response.status_code == 200, response.content
    assert [i["status"] for i in response.json()["synced_items"]] == ["created"]
    assert re.search(r"curl -sS 'http://127\.0\.0\.1:8123/api/v1/sync/activity/changes/", text)
    assert (
        "Admin: http://127.0.0.1:8123/admin/  user 'admin', password 'admin' (for local demos "
        "only)" in text
    )


def test_try_it_without_demo_data(db: Any) -> None:
    with pytest.raises(Exception, match="seed_demo"):
        run("try_it")


def test_health(client: Any, db: Any) -> None:
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_health_when_the_database_is_down(client: Any) -> None:
    with mock.patch("example.views.connection") as connection:
        connection.cursor.side_effect = OperationalError("connection refused")
        response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


@pytest.mark.django_db
def test_no_missing_migrations() -> None:
    call_command("makemigrations", "field_ops", "--check", "--dry-run", stdout=StringIO())


@pytest.mark.django_db  # Django 6 checks JSONField support on the database
def test_system_checks_pass() -> None:
    call_command("check", stdout=StringIO())
