"""``Authorization: Bearer <token>``: DRF's token authentication under the usual keyword.

Put it first in ``REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]`` (with
``rest_framework.authtoken`` in ``INSTALLED_APPS``): an unauthenticated request then answers
401 with ``WWW-Authenticate: Bearer`` (docs/authentication.md).
"""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

__all__ = ["BearerTokenAuthentication"]


class BearerTokenAuthentication(TokenAuthentication):
    """DRF's ``TokenAuthentication`` with the ``Bearer`` keyword.

    An ``Authorization`` header with another scheme (DRF's own ``Token``, ``Basic``...) is
    answered 401 with a message naming the scheme to use, instead of DRF's "credentials were
    not provided", which would send a developer looking for a missing header. The token model
    is DRF's (``rest_framework.authtoken``); a subclass may set ``model`` to its own.
    """

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        parts = get_authorization_header(request).split()
        if parts and parts[0].lower() != self.keyword.lower().encode():
            scheme = parts[0].decode("latin-1")[:30]
            raise AuthenticationFailed(
                f"The Authorization header uses the scheme {scheme!r}; this API expects "
                f"'Authorization: {self.keyword} <token>'."
            )
        return super().authenticate(request)
