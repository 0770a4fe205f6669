"""Creating tenants and their users (shared by the management commands)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.authtoken.models import Token

from .models import BusinessUnit, Client, UserProfile


@transaction.atomic
def ensure_user(
    username: str, client_name: str, bu_name: str, **bu_fields: Any
) -> tuple[Any, str]:
    """The user ``username`` in that client and business unit (created as needed), and its
    API token. A user of another tenant is moved to this one."""
    client, _ = Client.objects.get_or_create(name=client_name)
    bu, _ = BusinessUnit.objects.get_or_create(client=client, name=bu_name, defaults=bu_fields)
    user_model = get_user_model()
    user, created = user_model._default_manager.get_or_create(
        **{user_model.USERNAME_FIELD: username}
    )
    if created:
        user.set_unusable_password()  # devices authenticate with the token only
        user.save()
    UserProfile.objects.update_or_create(user=user, defaults={"client": client, "bu": bu})
    token, _ = Token.objects.get_or_create(user=user)
    return user, token.key
