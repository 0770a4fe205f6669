"""An endpoint's URL without its trailing slash: a JSON answer that names the right URL."""

from __future__ import annotations

import pytest
from django.test import override_settings


@pytest.mark.parametrize("endpoint", ["sync", "changes"])
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_write_without_the_slash_is_a_json_404(client, method, endpoint):
    response = getattr(client, method)(f"/api/sync/tasks/{endpoint}", {}, format="json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": f"This URL needs a trailing slash: {method.upper()} /api/sync/tasks/{endpoint}/",
        "code": "missing_trailing_slash",
    }


def test_unknown_domains_too(client):
    response = client.post("/api/sync/nope/sync", {}, format="json")
    assert response.json()["code"] == "missing_trailing_slash"


def test_a_read_without_the_slash_is_redirected_with_its_query(client):
    response = client.get("/api/sync/tasks/changes", {"limit": 5, "status": "todo"})
    assert response.status_code == 301
    assert response["Location"] == "/api/sync/tasks/changes/?limit=5&status=todo"
    assert client.head("/api/sync/tasks/changes").status_code == 301


@override_settings(APPEND_SLASH=False)
def test_without_append_slash_a_read_gets_the_json_404_too(client):
    response = client.get("/api/sync/tasks/changes")
    assert response.status_code == 404
    assert response.json()["code"] == "missing_trailing_slash"


def test_the_multi_domain_endpoints_without_the_slash(client):
    response = client.post("/api/sync/sync", {"domains": {}}, format="json")
    assert response.status_code == 404
    assert response.json()["detail"].endswith("POST /api/sync/sync/")
    assert client.get("/api/sync/changes?limit=1").url == "/api/sync/changes/?limit=1"
