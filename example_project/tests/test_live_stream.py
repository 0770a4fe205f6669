"""``GET {prefix}stream/`` served as ``make example`` serves it (ASGI, two worker processes):
pokes within a second of another device's push, never to another tenant, heartbeats,
``Last-Event-ID``, the JSON errors, 100 streams at once, and a commit on one server poking a
stream held by another, with each back end (docs/live.md)."""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from django_mobile_sync.domains import get_domains
from tests.helpers.live import LiveExample
from tests.helpers.sse import PREFIX, Event, EventStream

pytestmark = pytest.mark.live

HEARTBEAT = 1
#: Every domain of the example, as declared: what a stream follows by default.
DOMAINS = list(get_domains())
#: The example's domains with a view (docs/views.md): a change of role pokes them.
VIEWS = [name for name, domain in get_domains().items() if domain.view is not None]
ACME = ("--client", "Acme Facilities", "--bu", "Downtown Tower")


@pytest.fixture(scope="module")
def server(tmp_path_factory: Any) -> Iterator[LiveExample]:
    env = {"SYNC_STREAM_HEARTBEAT": str(HEARTBEAT), "SYNC_RATE_USER": "100000/hour"}
    env["SYNC_RATE_DEVICE"] = "100000/hour"
    with LiveExample(tmp_path_factory.mktemp("stream"), "stream", env=env, static=False) as live:
        yield live


@pytest.fixture(scope="module")
def tokens(server: LiveExample) -> dict[str, str]:
    acme = server.tokens("ann", "ben", "cat", "dan")
    other = server.tokens("olga", client="Other Corp", bu="Harbour")
    return {**acme, **other}


def push(server: LiveExample, token: str, domain: str = "work-orders") -> float:
    """A new record pushed by ``token``'s device; when the answer came."""
    entry = {"mobile_id": str(uuid.uuid4()), "version": 0, "description": "Urgent job"}
    if domain == "helpdesk":
        entry = {"mobile_id": entry["mobile_id"], "version": 0, "ticketdesc": "Leak"}
    status, body = server.json(
        "POST", f"{PREFIX}{domain}/sync/", {"entries": [entry]}, token=token
    )
    assert status == 200 and body["synced_items"][0]["status"] == "created", body
    return time.monotonic()


def database_connections(server: LiveExample) -> int:
    """Connections the server's processes hold to its PostgreSQL database."""
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [server.pg_name]
        ).fetchone()
    return int(row[0]) if row else 0


def ready(stream: EventStream) -> Event:
    assert stream.status == 200, stream.body
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    first = stream.next(timeout=10)
    assert first is not None and first.name == "ready", first
    return first


def test_ready_then_a_poke_within_a_second_of_another_devices_push(
    server: LiveExample, tokens: dict[str, str]
) -> None:
    with EventStream(server.port, tokens["ann"]) as stream:
        event = ready(stream)
        assert event.data == {"domains": DOMAINS, "heartbeat": HEARTBEAT}
        assert event.id
        assert stream.next(timeout=1.5) is None  # nothing changed since ready: no poke
        pushed = push(server, tokens["ben"])
        poke = stream.next(timeout=3)
        assert poke is not None and poke.name == "poke", poke
        assert poke.data == {"domains": ["work-orders"]}
        assert poke.id and poke.id != event.id
        assert poke.at - pushed < 1.0


def test_a_stream_of_some_domains_hears_of_those_only(
    server: LiveExample, tokens: dict[str, str]
) -> None:
    with EventStream(server.port, tokens["ann"], "domains=helpdesk") as stream:
        assert ready(stream).data["domains"] == ["helpdesk"]
        push(server, tokens["ben"], "work-orders")
        assert stream.next(timeout=1.5) is None
        push(server, tokens["ben"], "helpdesk")
        poke = stream.next(timeout=3)
        assert poke is not None and poke.data == {"domains": ["helpdesk"]}


def test_no_poke_for_another_tenant(server: LiveExample, tokens: dict[str, str]) -> None:
    with (
        EventStream(server.port, tokens["olga"]) as other,
        EventStream(server.port, tokens["ann"]) as own,
    ):
        ready(other), ready(own)
        push(server, tokens["ben"])
        poke = own.next(timeout=3)
        assert poke is not None and poke.name == "poke"
        assert other.next(timeout=1.5) is None  # Acme's change never reaches Other Corp
        push(server, tokens["olga"])
        assert (other.next(timeout=3) or Event("none")).name == "poke"


def test_heartbeat_comments_every_heartbeat(server: LiveExample, tokens: dict[str, str]) -> None:
    with EventStream(server.port, tokens["cat"]) as stream:
        ready(stream)
        beats = [stream.next(timeout=HEARTBEAT + 1, skip_comments=False) for _ in range(3)]
        assert all(beat is not None and beat.name == "comment" for beat in beats), beats
        gaps = [b.at - a.at for a, b in itertools.pairwise(beats)]  # type: ignore[union-attr]
        assert all(gap < HEARTBEAT + 0.5 for gap in gaps), gaps


def test_last_event_id_resumes(server: LiveExample, tokens: dict[str, str]) -> None:
    with EventStream(server.port, tokens["dan"]) as stream:
        last = ready(stream).id
    push(server, tokens["ben"], "helpdesk")  # while dan's device is offline
    with EventStream(server.port, tokens["dan"], last_event_id=last) as stream:
        current = ready(stream).id
        poke = stream.next(timeout=1)
        assert poke is not None and poke.name == "poke"
        assert poke.data == {"domains": ["helpdesk"]}
    with EventStream(server.port, tokens["dan"], last_event_id=current) as stream:
        ready(stream)
        assert stream.next(timeout=1.5) is None  # nothing since that event
    for foreign in ("garbage", current[:-2] + "xx"):  # malformed, forged: treated as old
        with EventStream(server.port, tokens["dan"], last_event_id=foreign) as stream:
            ready(stream)
            poke = stream.next(timeout=1)
            assert poke is not None and poke.name == "poke" and poke.data["domains"] == DOMAINS


def set_role(server: LiveExample, username: str, role: str) -> float:
    """``manage.py sync_user USERNAME --role ROLE``, a process of its own (not the server's,
    so its change reaches the streams through the back end); when it finished."""
    output = server.manage("sync_user", username, *ACME, "--role", role)
    assert f"-> {role}" in output, output
    return time.monotonic()


def test_a_change_of_role_pokes_that_users_streams_with_their_view_domains(
    server: LiveExample, tokens: dict[str, str]
) -> None:
    """No record changes, yet what the user sees does (docs/views.md): their streams get a
    poke naming the domains with a view within a second; a colleague's stream gets none."""
    assert {"activity", "checklist"} <= set(VIEWS) and "helpdesk" not in VIEWS
    with (
        EventStream(server.port, tokens["cat"]) as own,
        EventStream(server.port, tokens["cat"], "domains=helpdesk,checklist") as some,
        EventStream(server.port, tokens["dan"]) as colleague,
    ):
        ready(own), ready(some), ready(colleague)
        for role in ("supervisor", "worker"):  # a promotion backfills, a demotion removes
            changed = set_role(server, "cat", role)
            poke = own.next(timeout=3)
            assert poke is not None and poke.name == "poke", poke
            assert poke.data == {"domains": VIEWS}
            assert poke.at - changed < 1.0
            poke = some.next(timeout=3)
            assert poke is not None and poke.data == {"domains": ["checklist"]}
        assert colleague.next(timeout=1) is None
    status, _page = server.json("GET", f"{PREFIX}activity/changes/", token=tokens["cat"])
    assert status == 200


def test_a_stream_resumed_after_a_change_of_role_is_poked(
    server: LiveExample, tokens: dict[str, str]
) -> None:
    with EventStream(server.port, tokens["dan"]) as stream:
        last = ready(stream).id
    set_role(server, "dan", "supervisor")  # while dan's device is offline
    try:
        with EventStream(server.port, tokens["dan"], last_event_id=last) as stream:
            ready(stream)
            poke = stream.next(timeout=1)
            assert poke is not None and poke.data == {"domains": VIEWS}
    finally:
        set_role(server, "dan", "worker")


def test_errors_are_json_before_the_stream_starts(
    server: LiveExample, tokens: dict[str, str]
) -> None:
    anonymous = EventStream(server.port, None)
    assert anonymous.status == 401 and anonymous.headers["Content-Type"] == "application/json"
    assert set(anonymous.body) == {"detail", "code"}
    unknown = EventStream(server.port, tokens["ann"], "domains=helpdesk,nope")
    assert unknown.status == 404 and unknown.body["code"] == "unknown_domain"
    assert unknown.headers["Content-Type"] == "application/json"


def test_over_max_streams_per_user_is_a_429_until_one_closes(
    server: LiveExample, tokens: dict[str, str]
) -> None:
    streams = [EventStream(server.port, tokens["ben"]) for _ in range(10)]
    try:
        for stream in streams:
            ready(stream)
        refused = EventStream(server.port, tokens["ben"])
        assert refused.status == 429, refused.body
        assert refused.body["code"] == "too_many_streams"
        assert int(refused.headers["Retry-After"]) >= 1
        streams.pop().close()
        deadline = time.monotonic() + HEARTBEAT + 2
        while True:  # a dead connection stops counting within one heartbeat
            again = EventStream(server.port, tokens["ben"])
            if again.status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert again.status == 200
        streams.append(again)
    finally:
        for stream in streams:
            stream.close()


def test_a_hundred_streams_are_all_poked_while_a_pull_answers_at_once(
    server: LiveExample, tokens: dict[str, str]
) -> None:
    users = server.tokens(*[f"crowd{i}" for i in range(25)])
    with ThreadPoolExecutor(20) as pool:
        streams = list(pool.map(lambda t: EventStream(server.port, t), list(users.values()) * 4))
    try:
        for stream in streams:
            ready(stream)
        started = time.monotonic()
        status, _page = server.json("GET", f"{PREFIX}work-orders/changes/", token=tokens["ann"])
        assert status == 200 and time.monotonic() - started < 1.0
        pushed = push(server, tokens["ben"])
        pokes = [stream.next(timeout=5) for stream in streams]
        assert all(p is not None and p.name == "poke" for p in pokes)
        latest = max(p.at for p in pokes if p is not None)
        assert latest - pushed < 2.0
        if server.on_postgres:  # a stream gives its connection back once it has started
            assert database_connections(server) < 50
    finally:
        for stream in streams:
            stream.close()


#: LISTEN/NOTIFY exists on PostgreSQL only: the PostgreSQL run has the third case.
BACKENDS = ["poll", "redis"] + (
    ["postgres"] if os.environ.get("DATABASE_URL", "").startswith("postgres") else []
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_commit_on_one_server_pokes_a_stream_held_by_another(
    backend: str, tmp_path: Path
) -> None:
    env = {"SYNC_LIVE_BACKEND": backend, "SYNC_STREAM_HEARTBEAT": "5"}
    if backend == "redis":
        env["REDIS_URL"] = "redis://127.0.0.1:6379/9"
    if backend != "poll":  # the periodic read alone would be too slow to pass
        env["SYNC_LIVE_SAFETY_INTERVAL"] = "30"
    with LiveExample(tmp_path, f"a_{backend}", workers=1, env=env, static=False) as first:
        token, other = first.tokens("eve", "fay").values()
        second = LiveExample(
            tmp_path,
            f"b_{backend}",
            workers=1,
            env=env,
            static=False,
            database_url=first.database_url,
        )
        with second, EventStream(second.port, token) as stream:
            ready(stream)
            pushed = push(first, other)
            poke = stream.next(timeout=3)
            assert poke is not None and poke.name == "poke", poke
            assert poke.at - pushed < 1.0
            # A change of role made by a third process (manage.py) pokes it too.
            changed = set_role(first, "eve", "supervisor")
            poke = stream.next(timeout=3)
            assert poke is not None and poke.data == {"domains": VIEWS}, poke
            assert poke.at - changed < 1.0


class ChaosDevice(threading.Thread):
    """A device that pulls helpdesk only when poked, and whose stream drops at random: it
    reconnects with ``Last-Event-ID`` after a random pause."""

    def __init__(self, server: LiveExample, token: str, seed: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.server, self.token, self.stop = server, token, stop
        self.hold, self.held, self.release = (
            threading.Event(),
            threading.Event(),
            threading.Event(),
        )
        self.random = random.Random(seed)
        self.store: dict[str, int] = {}
        self.cursor = ""
        self.drops = self.pulls = 0
        self.failure: BaseException | None = None

    def pull(self) -> None:
        self.pulls += 1
        while True:
            query = f"?limit=100&cursor={self.cursor}" if self.cursor else "?limit=100"
            status, page = self.server.json(
                "GET", f"{PREFIX}helpdesk/changes/{query}", token=self.token
            )
            assert status == 200, page
            for item in page["items"]:
                self.store[item["mobile_id"]] = item["version"]
            self.cursor = page["next_cursor"]
            if not page["has_more"]:
                return

    def run(self) -> None:
        try:
            stream = EventStream(self.server.port, self.token, "domains=helpdesk")
            ready(stream)
            self.pull()  # the first sync, as a device does when it starts
            while not self.stop.is_set():
                event = stream.next(timeout=0.2)
                if event is not None and event.name == "poke":
                    self.pull()
                dropped = event is not None and event.name == "closed"
                if self.hold.is_set() or dropped or self.random.random() < 0.1:
                    last = stream.last_id
                    stream.close()
                    self.drops += 1
                    time.sleep(self.random.uniform(0, 0.6))  # changes land meanwhile
                    if self.hold.is_set():  # offline until the test says
                        self.held.set()
                        self.release.wait(10)
                        self.hold.clear()
                    stream = EventStream(self.server.port, self.token, "domains=helpdesk", last)
                    ready(stream)
            stream.close()
        except BaseException as exc:  # reported by the test
            self.failure = exc


def test_chaos_streams_dropped_during_writes_lose_no_change(
    server: LiveExample, tokens: dict[str, str]
) -> None:
    """Devices pull only when poked; their streams drop at random while another device
    writes. Once the writes stop, every device holds every record at its latest version:
    a lost poke costs latency, never a change."""
    users = server.tokens(*[f"chaos{i}" for i in range(6)], "chaoswriter")
    writer = users.pop("chaoswriter")
    stop = threading.Event()
    devices = [ChaosDevice(server, token, i, stop) for i, token in enumerate(users.values())]
    for device in devices:
        device.start()
    versions: dict[str, int] = {}
    pace = random.Random(26)
    deadline = time.monotonic() + 6
    n = 0
    while time.monotonic() < deadline:
        entries = [{"mobile_id": str(uuid.uuid4()), "version": 0, "ticketdesc": f"Leak {n}"}]
        if versions and pace.random() < 0.5:
            mobile_id = pace.choice(list(versions))
            edit = {"mobile_id": mobile_id, "version": versions[mobile_id], "priority": "HIGH"}
            entries.append({**edit, "ticketdesc": f"Leak, edited {n}"})
        status, body = server.json(
            "POST", f"{PREFIX}helpdesk/sync/", {"entries": entries}, token=writer
        )
        assert status == 200, body
        for item in body["synced_items"]:
            versions[item["mobile_id"]] = item["server_version"]
        n += 1
        time.sleep(pace.uniform(0, 0.1))
    # The last change lands while every stream is down: only the poke that follows `ready`
    # on reconnection (Last-Event-ID) tells the devices.
    for device in devices:
        device.hold.set()
    for device in devices:
        assert device.held.wait(10)
    last = {"mobile_id": str(uuid.uuid4()), "version": 0, "ticketdesc": "While all offline"}
    status, body = server.json(
        "POST", f"{PREFIX}helpdesk/sync/", {"entries": [last]}, token=writer
    )
    assert status == 200, body
    versions[last["mobile_id"]] = body["synced_items"][0]["server_version"]
    for device in devices:
        device.release.set()
    truth = ChaosDevice(server, writer, 0, stop)
    truth.pull()
    expected = {k: v for k, v in truth.store.items() if k in versions}
    assert expected == versions
    converged_by = time.monotonic() + 5
    while time.monotonic() < converged_by:
        if all({k: d.store.get(k) for k in versions} == versions for d in devices):
            break
        time.sleep(0.1)
    stop.set()
    for device in devices:
        device.join(10)
        assert device.failure is None, device.failure
    assert sum(device.drops for device in devices) >= 6  # the streams did drop
    for device in devices:
        missed = {k for k, v in versions.items() if device.store.get(k) != v}
        assert not missed, f"{len(missed)} changes missed after {device.drops} drops"
