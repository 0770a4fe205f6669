"""System checks: every misconfiguration of ``MOBILE_SYNC`` fails at start-up."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from .conf import sync_settings
from .domains import get_domains


@checks.register()
def check_mobile_sync(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    declared = sync_settings.DOMAINS
    names = Counter(
        getattr(d, "name", None) or (d.get("name") if isinstance(d, dict) else None)
        for d in declared
    )
    for name, count in names.items():
        if count > 1:
            errors.append(
                checks.Error(
                    f"MOBILE_SYNC['DOMAINS']: the domain name {name!r} is declared {count} times.",
                    hint="Give every domain its own name: it is the URL segment.",
                    id="django_mobile_sync.E001",
                )
            )
    try:
        domains = get_domains().values()
    except (ImproperlyConfigured, TypeError) as exc:
        return [*errors, checks.Error(str(exc), id="django_mobile_sync.E010")]
    for domain in domains:
        for code, message in domain.problems():
            errors.append(checks.Error(message, id=f"django_mobile_sync.{code}"))
    return errors
