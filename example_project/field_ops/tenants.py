"""Creating tenants and their users (shared by the management commands)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.authtoken.models import Token

from .models import BusinessUnit, Client, UserProfile


def ensure_user(
    username: str,
    client_name: str,
    bu_name: str,
    *,
    using: str = "default",
    role: str | None = None,
    **bu_fields: Any,
) -> tuple[Any, str]:
    """The user ``username`` in that client and business unit (created as needed), and its
    API token. A user of another tenant is moved to this one; ``role`` (``worker`` or
    ``supervisor``) changes what they see (docs/views.md), ``None`` keeps it."""
    with transaction.atomic(using=using):
        client, _ = Client.objects.using(using).get_or_create(name=client_name)
        bu, _ = BusinessUnit.objects.using(using).get_or_create(
            client=client, name=bu_name, defaults=bu_fields
        )
        users = get_user_model()._default_manager.db_manager(using)
        user, created = users.get_or_create(**{get_user_model().USERNAME_FIELD: username})
        if created:
            user.set_unusable_password()  # devices authenticate with the token only
            user.save(using=using)
        defaults: dict[str, Any] = {"client": client, "bu": bu}
        if role is not None:
            defaults["role"] = role
        UserProfile.objects.using(using).update_or_create(user=user, defaults=defaults)
        token, _ = Token.objects.using(using).get_or_create(user=user)
        return user, token.key
