"""``BearerTokenAuthentication``: DRF's tokens as ``Authorization: Bearer <token>`` (docs:
index.md, "Include the URLs and pick an authentication")."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

BEARER = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "django_mobile_sync.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
}
URL = "/api/sync/tasks/changes/"


@pytest.fixture
def bearer(settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, **BEARER}


def get(header: str | None) -> Any:
    api = APIClient()
    if header is not None:
        api.credentials(HTTP_AUTHORIZATION=header)
    return api.get(URL)


def test_a_bearer_token_authenticates(bearer: None, user: Any) -> None:
    token = Token.objects.create(user=user)
    assert get(f"Bearer {token.key}").status_code == 200
    assert get(f"bearer {token.key}").status_code == 200  # the scheme is case-insensitive


@pytest.mark.parametrize(
    ("header", "code", "detail"),
    [
        (None, "not_authenticated", "Authentication credentials were not provided."),
        ("Bearer nope", "authentication_failed", "Invalid token."),
        ("Bearer", "authentication_failed", "Invalid token header. No credentials provided."),
        (
            "Token abc",
            "authentication_failed",
            "The Authorization header uses the scheme 'Token'; this API expects "
            "'Authorization: Bearer <token>'.",
        ),
    ],
    ids=["none", "unknown-token", "no-token", "other-scheme"],
)
def test_anything_else_is_a_401_that_says_why(
    bearer: None, db: Any, header: str | None, code: str, detail: str
) -> None:
    answer = get(header)
    assert answer.status_code == 401 and answer["WWW-Authenticate"] == "Bearer"
    assert answer.json() == {"detail": detail, "code": code}
