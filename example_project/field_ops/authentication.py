"""``Authorization: Bearer <token>`` with DRF's token model."""

from __future__ import annotations

from rest_framework.authentication import TokenAuthentication


class BearerTokenAuthentication(TokenAuthentication):
    """DRF's ``TokenAuthentication`` under the usual ``Bearer`` keyword."""

    keyword = "Bearer"
