"""First sync: a device follows ``next_cursor`` from nothing through 100,000 records, or
WatermelonDB's one unpaged pull of the same records (``--protocol watermelon``).

Three steps, each its own process so that memory is measured in a process that did nothing
else: ``--generate`` makes the table (SQL, no Python objects per row); ``--measure rss``
pulls every page through HTTP and reports the peak resident set size above the idle process
(the kernel's high-water mark, reset after warm-up); ``--measure tracemalloc`` does it again
under tracemalloc for the peak of Python allocations.

``--protocol floor`` reads the same rows without the library (:func:`measure_floor`): the
first sync's goal is a ratio to it.

Usage: ``python -m benchmarks.first_sync --backend postgresql --generate --rows 100000``,
then ``--measure rss`` and ``--measure tracemalloc`` (each with ``--protocol watermelon``
too). The WatermelonDB response is read as it streams, without keeping it, so the process's
memory is the server's.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import drop, emit, generate_tasks, make_user, setup

DB = "bench_dms_sync"
STATUS = Path("/proc/self/status")


def rss_kib(key: str = "VmRSS") -> int:
    for line in STATUS.read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def reset_peak() -> bool:
    """Reset the kernel's peak RSS of this process (Linux: ``echo 5 > clear_refs``)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def watermelon_pull(api: Any) -> tuple[int, int]:
    """One WatermelonDB first sync, read as it streams: ``(records, bytes)``."""
    response = api.get("/api/sync/watermelon/", {"last_pulled_at": "null"})
    assert response.status_code == 200, response.content[:300]
    marker, tail, records, size = b'"id":', b"", 0, 0
    for chunk in response.streaming_content:
        data = tail + chunk
        records += data.count(marker)
        tail = data[-(len(marker) - 1) :]
        size += len(chunk)
    return records, size


def measure(mode: str, page_size: int, protocol: str = "native") -> dict[str, Any]:
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from benchmarks.benchapp.models import Task

    user = User.objects.get(username="device")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=user).key}")
    expected = Task.all_objects.filter(org=user.member.org).count()

    def page(cursor: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": page_size, **({"cursor": cursor} if cursor else {})}
        response = api.get("/api/sync/tasks/changes/", params)
        assert response.status_code == 200, response.content[:300]
        return json.loads(response.content)

    if protocol == "watermelon":
        return measure_watermelon(api, mode, expected)
    if protocol == "floor":
        return measure_floor(user.member.org, mode, page_size, expected)
    page(None)  # warm-up: imports, serializers, connections

    def follow() -> dict[str, Any]:
        cursor, seen, pages, tombstones = None, 0, 0, 0
        while True:
            body = page(cursor)
            pages += 1
            seen += len(body["items"])
            tombstones += sum(1 for item in body["items"] if item["deleted"])
            cursor = body["next_cursor"]
            if not body["has_more"]:
                break
        return {"rows": expected, "items": seen, "tombstones": tombstones, "pages": pages}

    result = measured(mode, follow)
    result["page_size"] = page_size
    assert result["items"] == expected, f"the first sync saw {result['items']} of {expected}"
    return result


def measured(mode: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``run()``'s result with its ``seconds`` and its memory: the peak resident set above
    the idle process (``rss``) or the peak of Python allocations (``tracemalloc``)."""
    gc.collect()
    idle = rss_kib()
    exact = reset_peak()
    if mode == "tracemalloc":
        tracemalloc.start()
    started = time.perf_counter()
    result = run()
    result["seconds"] = time.perf_counter() - started
    if mode == "tracemalloc":
        result["python_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        return result
    peak = rss_kib("VmHWM") if exact else int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    result.update(idle_mib=idle / 1024, peak_mib=peak / 1024, above_idle_mib=(peak - idle) / 1024)
    return result


def measure_watermelon(api: Any, mode: str, expected: int) -> dict[str, Any]:
    """WatermelonDB's first sync of every live record, in one streamed response.

    The table ``tasks`` is mapped for this measure only: the benchmarked model keeps UUID
    ids (which WatermelonDB apps may use), so that every other benchmark is unchanged.
    """
    from django.conf import settings
    from django.test import override_settings

    tables = {"WATERMELON": {"tasks": "tasks"}}
    with override_settings(MOBILE_SYNC={**settings.MOBILE_SYNC, **tables}):
        return measure_watermelon_pull(api, mode, expected)


def measure_watermelon_pull(api: Any, mode: str, expected: int) -> dict[str, Any]:
    from benchmarks.benchapp.models import Task

    live = Task.objects.filter(org__member__user__username="device").count()
    api.get("/api/sync/watermelon/", {"last_pulled_at": "null", "schema_version": "1"})

    def pull() -> dict[str, Any]:
        records, size = watermelon_pull(api)
        return {"rows": live, "stored_rows": expected, "items": records, "pages": 1, "bytes": size}

    result = measured(mode, pull)
    assert result["items"] == live, f"WatermelonDB's first sync sent {result['items']} of {live}"
    return result


def measure_floor(org: Any, mode: str, page_size: int, expected: int) -> dict[str, Any]:
    """The floor of a first sync: the same rows read by keyset pages of ``page_size`` in
    ``(change_seq, id)`` order, as dictionaries of the wire's columns (no model built, no
    cursor, no horizon, no HTTP), each page serialised by the sync views' JSON renderer.
    Tombstones included, as the native pull sends them (WatermelonDB's sends live rows)."""
    from benchmarks.benchapp.models import Task
    from django_mobile_sync.api.renderers import SyncJSONRenderer
    from django_mobile_sync.records.clock import after_position

    columns = ["id", "change_seq", "mobile_id", "version", "updated_at", "deleted"]
    columns += ["title", "status", "priority", "notes", "due_at", "history"]
    rows = Task.all_objects.filter(org=org).order_by("change_seq", "id").values(*columns)
    renderer = SyncJSONRenderer()

    def read() -> dict[str, Any]:
        after, seen, pages, size = (-1, None), 0, 0, 0
        while True:  # the row comparison the pull uses: an index range, not a filter
            page = list(rows.filter(after_position(Task, *after))[:page_size])
            size += len(renderer.render({"items": page, "has_more": len(page) == page_size}))
            pages += 1
            seen += len(page)
            if len(page) < page_size:
                return {"rows": expected, "items": seen, "pages": pages, "bytes": size}
            after = (page[-1]["change_seq"], page[-1]["id"])

    read()  # warm-up, as the other protocols
    result = measured(mode, read)
    result["page_size"] = page_size
    assert result["items"] == expected, f"the floor read {result['items']} of {expected}"
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument("--generate", action="store_true")
    parser.add_argument("--drop", action="store_true")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--measure", choices=["rss", "tracemalloc"])
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--protocol", choices=["native", "watermelon", "floor"], default="native")
    args = parser.parse_args()
    if args.generate:
        setup(args.backend, DB)
        user, _ = make_user("device")
        generate_tasks(user.member.org, args.rows)
        return
    setup(args.backend, DB, fresh=False)
    if args.drop:
        drop(args.backend, DB)
        return
    result = measure(args.measure, args.page_size, args.protocol)
    emit({"first_sync": result, "mode": args.measure, "protocol": args.protocol})


if __name__ == "__main__":
    main()
