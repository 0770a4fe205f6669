"""Rate limits of the example served by gunicorn with several workers (issue 13, 4 and 5).

Each gunicorn worker is its own process: a counter in a local-memory cache lets every
worker allow the full rate. The example counts in the database when no ``REDIS_URL`` is set,
and in Redis when one is; either way exactly the rate passes, whichever worker answers.
The access log names the worker of every request (``%(p)s``), so the tests also check that
the burst really was spread over several processes.

Marked ``live``: they start servers, so one environment per database backend runs them.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.devices import new_id
from tests.helpers.live import LiveExample, free_port

pytestmark = pytest.mark.live

PREFIX = "/api/v1/sync/"
WORKERS = 3
PUSH_RATE, PULL_RATE = 5, 4
#: The rates count per hour: a burst must fit in one fixed window (it restarts on the hour),
#: and with an hour's window a test almost never has to wait for the next one (with a
#: minute's it waited up to 20 s a third of the time).
WINDOW = 3600
#: The worker's pid in every access-log line: ``<1234> "POST /api/... HTTP/1.1" 200``.
ACCESS_LOG = "--access-logformat '%(p)s \"%(r)s\" %(s)s'"
LOG_LINE = re.compile(r'^<(\d+)> "(\w+) (\S+) HTTP/[\d.]+" (\d+)$')


def environment(**extra: str) -> dict[str, str]:
    return {
        "SYNC_RATE_USER": f"{PUSH_RATE}/hour",
        "SYNC_RATE_PULL_USER": f"{PULL_RATE}/hour",
        "GUNICORN_CMD_ARGS": ACCESS_LOG,
        **extra,
    }


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: Any) -> Iterator[str]:
    """A real Redis server of this module's own, on a free port."""
    binary = shutil.which("redis-server")
    if binary is None:
        # CI installs Redis (.ci/run): there a missing server fails instead of skipping.
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed: CI must have it", pytrace=False)
        pytest.skip("redis-server is not installed: the Redis store is not exercised")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module", params=["database", "redis"])
def server(request: Any, tmp_path_factory: Any) -> Iterator[LiveExample]:
    """The example under gunicorn with three workers: no Redis (the embedded default), or
    ``REDIS_URL`` pointing at a real Redis."""
    extra = {}
    if request.param == "redis":
        extra["REDIS_URL"] = request.getfixturevalue("redis_url")
    workdir = tmp_path_factory.mktemp(f"throttle-{request.param}")
    # gunicorn's sync workers: their access log names the worker's pid (uvicorn's does not);
    # the counters are shared the same way whichever worker class serves the request.
    with LiveExample(
        workdir,
        f"throttle_{request.param}",
        workers=WORKERS,
        env=environment(**extra),
        asgi=False,
    ) as live:
        yield live


def fresh_window(seconds: int = WINDOW, needed: float = 20) -> None:
    """Wait, if need be, so that a burst of ``needed`` seconds fits in one rate window."""
    left = seconds - time.time() % seconds
    if left < needed:
        time.sleep(left + 0.5)


def burst(call: Callable[[int], tuple[int, dict[str, str], bytes]], count: int) -> list[Any]:
    """``count`` requests at once, so that every worker is busy and several answer."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(call, range(count)))


def workers_that_answered(log: Path, path: str) -> set[str]:
    pids = set()
    for line in log.read_text(errors="replace").splitlines():
        found = LOG_LINE.match(line.strip())
        if found and found.group(3).startswith(path):
            pids.add(found.group(1))
    return pids


def test_the_push_limit_holds_across_workers(server: LiveExample) -> None:
    token = server.token(f"pusher-{server.name}")
    entries = [{"mobile_id": new_id(), "description": f"step {i}"} for i in range(20)]

    def push(i: int) -> tuple[int, dict[str, str], bytes]:
        # A real batch: each push holds its worker long enough for the others to take some.
        body = {"entries": [dict(e, mobile_id=new_id()) for e in entries], "client_id": f"d{i}"}
        return server.request("POST", f"{PREFIX}work-orders/sync/", body, token=token)

    fresh_window()
    answers = burst(push, 15)
    statuses = sorted(status for status, _headers, _body in answers)
    assert statuses == [200] * PUSH_RATE + [429] * (15 - PUSH_RATE), (
        f"{statuses.count(200)} of 15 pushes passed a limit of {PUSH_RATE}: {statuses}"
    )
    for status, headers, body in answers:
        if status == 429:
            assert 0 < int(headers["Retry-After"]) <= WINDOW
            assert b'"code":"throttled"' in body
    assert len(workers_that_answered(server.log, f"{PREFIX}work-orders/sync/")) >= 2


def test_the_pull_limit_holds_across_workers_and_counts_head(server: LiveExample) -> None:
    token = server.token(f"puller-{server.name}")

    def pull(i: int) -> tuple[int, dict[str, str], bytes]:
        # Every other request is a HEAD: Django answers it by running the whole pull.
        method = "HEAD" if i % 2 else "GET"
        return server.request(method, f"{PREFIX}activity/changes/?limit=1", token=token)

    fresh_window()
    answers = burst(pull, 12)
    statuses = sorted(status for status, _headers, _body in answers)
    assert statuses == [200] * PULL_RATE + [429] * (12 - PULL_RATE), (
        f"{statuses.count(200)} of 12 pulls passed a limit of {PULL_RATE}: {statuses}"
    )
    assert all(0 < int(h["Retry-After"]) <= WINDOW for s, h, _b in answers if s == 429)
    assert len(workers_that_answered(server.log, f"{PREFIX}activity/changes/")) >= 2
    # HEAD alone is counted too: the budget of this window is spent.
    assert server.request("HEAD", f"{PREFIX}activity/changes/", token=token)[0] == 429
