"""A property of views (docs/views.md): whatever the schedule of reassignments, role
changes, deletes and devices that sync late or lose responses, every device ends holding
exactly the records its user can see, at the server's version: no ghost, no gap. The
WatermelonDB endpoint's devices too, with no answer WatermelonDB would log as a server error
beyond the documented one (another device's new record changed again, sent as ``updated``)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.test import override_settings
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests.helpers.api import CHANGES, PULL_URL, make_user, new_id, push
from tests.helpers.watermelon import WatermelonDevice
from tests.testapp.models import Org, Visit, VisitStep
from tests.views import access

pytestmark = pytest.mark.usefixtures("assigned")
RUNS = itertools.count()

WHO = st.sampled_from([0, 1, None])  # alice, bob, nobody
OPS = st.one_of(
    st.tuples(st.just("create"), WHO, st.integers(0, 2)),
    st.tuples(st.just("reassign"), st.integers(0, 5), WHO),
    st.tuples(st.just("delete"), st.integers(0, 5)),
    st.tuples(st.just("role"), st.integers(0, 1), st.booleans()),
    st.tuples(st.just("sync"), st.integers(0, 7), st.sampled_from([1, 2, 50]), st.booleans()),
)


class Device:
    """One device: a domain's pull (``domain``) or the feed of both (``None``)."""

    def __init__(self, api: APIClient, domain: str | None) -> None:
        self.api, self.domain = api, domain
        self.cursor: str | None = None
        self.held: dict[str, dict[str, int]] = {"visits": {}, "visit-steps": {}}

    def page(self, limit: int, lose: bool = False) -> bool:
        """One page; a lost response changes nothing on the device. ``True``: more."""
        query: dict[str, Any] = {
            "limit": limit,
            **({"cursor": self.cursor} if self.cursor else {}),
        }
        if self.domain is None:
            answer = self.api.get(CHANGES, {**query, "domains": "visits,visit-steps"})
        else:
            answer = self.api.get(PULL_URL.format(self.domain), query)
        assert answer.status_code == 200, answer.content
        body = answer.json()
        if lose:
            return True
        changes = body["changes"] if self.domain is None else {self.domain: body["items"]}
        for domain, items in changes.items():
            for item in items:
                if item["deleted"]:
                    self.held[domain].pop(item["mobile_id"], None)
                else:
                    self.held[domain][item["mobile_id"]] = item["version"]
        self.cursor = body["next_cursor"]
        return bool(body["has_more"])

    def sync(self) -> None:
        """Follow the cursor to the end; a feed's window may have opened before the last
        writes, so it ends with a second round (docs/engine.md)."""
        for _ in range(1 if self.domain else 2):
            while self.page(7):
                pass


def visible(user: User, org: Org) -> dict[str, dict[str, int]]:
    """What ``user`` may see now, at the server's versions."""
    visits = Visit.objects.filter(org=org)
    if user.pk not in access.SUPERVISORS:
        visits = visits.filter(assignee__in=[user]) | visits.filter(assignee__isnull=True)
    seen = {v.pk: str(v.mobile_id) for v in visits}
    steps = VisitStep.objects.filter(org=org, visit_id__in=list(seen))
    return {
        "visits": {str(v.mobile_id): v.version for v in visits},
        "visit-steps": {str(s.mobile_id): s.version for s in steps},
    }


def watermelon_view(user: User, org: Org) -> dict[str, dict[str, Any]]:
    """What ``user`` may see now as a WatermelonDB device holds it: each visit's assignee."""
    visits = Visit.objects.filter(org=org)
    if user.pk not in access.SUPERVISORS:
        visits = visits.filter(assignee__in=[user]) | visits.filter(assignee__isnull=True)
    steps = VisitStep.objects.filter(org=org, visit__in=visits)
    return {
        "visits": {str(v.mobile_id): v.assignee_id for v in visits},
        "visit_steps": {str(s.mobile_id): str(s.visit.mobile_id) for s in steps},
    }


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(OPS, min_size=1, max_size=14))
@example(  # a WatermelonDB device promoted, then demoted, with a reassignment between
    ops=[
        ("create", 1, 2),
        ("create", 0, 1),
        ("sync", 6, 50, False),
        ("role", 0, True),
        ("reassign", 1, 1),
        ("sync", 6, 50, False),
        ("role", 0, False),
        ("sync", 6, 50, True),
    ]
)
def test_every_device_ends_with_exactly_its_view(
    client_for: Any, boss: APIClient, ops: list[tuple[Any, ...]]
) -> None:
    run = next(RUNS)
    org = Org.objects.create(name=f"run {run}")
    users = [make_user(f"w{run}-{n}", org) for n in range(2)]
    chief = make_user(f"chief{run}", org)
    access.SUPERVISORS.add(chief.pk)
    admin = client_for(chief)
    apis = [client_for(u) for u in users]
    devices = [Device(apis[n], domain) for n in range(2) for domain in ("visits", None)]
    devices += [Device(apis[n], "visit-steps") for n in range(2)]
    phones = [WatermelonDevice(apis[n], ["visits", "visit_steps"]) for n in range(2)]
    mapping = {"visits": "visits", "visit_steps": "visit-steps"}
    watermelon = override_settings(
        MOBILE_SYNC={**django_settings.MOBILE_SYNC, "WATERMELON": mapping}
    )
    watermelon.enable()
    try:
        run_schedule(ops, users, admin, apis, devices, phones, org)
    finally:
        watermelon.disable()


def run_schedule(
    ops: list[tuple[Any, ...]],
    users: list[User],
    admin: APIClient,
    apis: list[APIClient],
    devices: list[Device],
    phones: list[WatermelonDevice],
    org: Org,
) -> None:
    visits: list[str] = []
    for op in ops:
        kind = op[0]
        if kind == "create":
            mobile_id, assignee = new_id(), None if op[1] is None else users[op[1]].pk
            push(admin, [{"mobile_id": mobile_id, "assignee": assignee}], "visits")
            steps = [
                {"mobile_id": new_id(), "visit": mobile_id, "label": "s"} for _ in range(op[2])
            ]
            push(admin, steps, "visit-steps")
            visits.append(mobile_id)
        elif kind in ("reassign", "delete") and visits:
            mobile_id = visits[op[1] % len(visits)]
            record = Visit.all_objects.get(mobile_id=mobile_id)
            if kind == "delete":
                entry = {"mobile_id": mobile_id, "version": record.version, "deleted": True}
            else:
                to = None if op[2] is None else users[op[2]].pk
                entry = {"mobile_id": mobile_id, "version": record.version, "assignee": to}
            push(admin, [entry], "visits")
        elif kind == "role":
            (access.SUPERVISORS.add if op[2] else access.SUPERVISORS.discard)(users[op[1]].pk)
        elif kind == "sync" and op[1] >= len(devices):
            phones[op[1] % 2].sync(lose=op[3])
        elif kind == "sync":
            devices[op[1]].page(op[2], lose=op[3])
    for device in devices:
        device.sync()
        expected = visible(users[apis.index(device.api)], org)
        for domain in ("visits", "visit-steps"):
            if device.domain in (None, domain):
                assert device.held[domain] == expected[domain], (domain, ops)
    for n, phone in enumerate(phones):
        phone.sync()
        holds = {
            "visits": {k: raw["assignee"] for k, raw in phone.held["visits"].items()},
            "visit_steps": {k: raw["visit_id"] for k, raw in phone.held["visit_steps"].items()},
        }
        assert holds == watermelon_view(users[n], org), ops
        assert [e for e in phone.errors if e[0] != "updated but absent"] == [], ops
