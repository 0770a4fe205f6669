from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import override_settings
from rest_framework.test import APIClient

from django_mobile_sync.domains import SyncDomain
from tests.helpers.api import make_user
from tests.testapp.models import Org
from tests.views import access

ASSIGNED = {
    "key": "assignee",
    "user": "pk",
    "user_keys": "tests.views.access.covered_by",
    "unassigned": True,
    "sees_all": "tests.views.access.is_supervisor",
}
#: Steps of a visit: seen by whoever sees the visit.
STEPS = SyncDomain(
    name="visit-steps",
    model="testapp.VisitStep",
    fields=["visit", "label"],
    tenant_fields=["org"],
    scope="tests.testapp.scopes.org_scope",
    view={"inherit": "visit"},
)


@pytest.fixture(autouse=True)
def _fresh_access() -> Iterator[None]:
    access.SUPERVISORS.clear()
    access.SITES.clear()
    access.COVERS.clear()
    yield
    access.SUPERVISORS.clear()
    access.SITES.clear()
    access.COVERS.clear()


@pytest.fixture
def assigned(domain_options: Callable[..., Any]) -> Iterator[None]:
    """The visits domain seen by assignee: a worker sees theirs and the unassigned ones;
    their steps follow them."""
    with domain_options("visits", view=ASSIGNED):
        domains = [*settings.MOBILE_SYNC["DOMAINS"], STEPS]
        with override_settings(MOBILE_SYNC={**settings.MOBILE_SYNC, "DOMAINS": domains}):
            yield


@pytest.fixture
def boss(org: Org, client_for: Callable[[User], APIClient]) -> APIClient:
    """A supervisor's device: sees every visit."""
    user = make_user("boss", org)
    access.SUPERVISORS.add(user.pk)
    return client_for(user)


@pytest.fixture
def bob(org: Org) -> User:
    """Another worker of the org."""
    return make_user("bob", org)
