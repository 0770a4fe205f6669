"""ASGI entry point, what ``make example`` serves: ``gunicorn example.asgi:application -k
uvicorn_worker.UvicornWorker`` from ``example_project/``. Live streams (docs/live.md) wait on
the event loop; pushes and pulls run as sync views, each in a thread of its own."""

from __future__ import annotations

import gc
import json
import logging
import os
import resource
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")
os.environ["EXAMPLE_ASGI"] = "1"  # settings: database connections from a pool

#: Open files a worker may hold: every stream is a socket. Many systems start a process with
#: a soft limit of 1,024; raise it toward the hard limit (docs/live.md#serving-it).
OPEN_FILES = 65536


def raise_open_files_limit() -> int:
    """Raise this process's soft limit of open files toward :data:`OPEN_FILES` (never above
    the hard limit); the limit now, with a warning when it stays low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES if hard == resource.RLIM_INFINITY else min(OPEN_FILES, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft = wanted
    if soft != resource.RLIM_INFINITY and soft < 4096:
        logging.getLogger("example").warning(
            "Open files are limited to %s per worker: each live stream holds one; raise the "
            "hard limit (ulimit -Hn, LimitNOFILE=) to hold thousands.",
            soft,
        )
    return int(soft)


#: Python's cyclic garbage collector, tuned for a server: the first generation collected
#: every 20,000 allocations instead of 700, the second every 50 of those (10 by default),
#: a full collection considered every 100 of the second's (10). With
#: the defaults, collections took a tenth to a quarter of a worker's CPU under a push and
#: pull load, and every open stream (about 250 objects of Django's and uvicorn's request
#: machinery, for hours) made each full collection longer (docs/live.md#serving-it).
GC_THRESHOLDS = (20_000, 50, 100)


def tune_garbage_collector() -> None:
    """Collect less often, and leave what the process loaded at start (modules, classes,
    the URL conf: a hundred thousand objects that live as long as it) out of every
    collection from now on (``gc.freeze()``)."""
    gc.set_threshold(*GC_THRESHOLDS)
    gc.collect()
    gc.freeze()


raise_open_files_limit()
django_application = get_asgi_application()
tune_garbage_collector()
#: The bodies the sync endpoints parse (WatermelonDB's push may come as text/plain).
JSON_BODIES = (b"application/json", b"text/plain", b"")


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Django's ASGI handler reads a request's whole body before any view runs: a JSON
    request (a push) that declares more than ``MAX_BODY_BYTES`` is answered ``413`` here,
    before its body is read, as the library's parser does under WSGI
    (docs/live.md#serving-it). Uploads (``{prefix}files/``) have limits of their own."""
    headers = dict(scope.get("headers") or []) if scope["type"] == "http" else {}
    media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    if media_type in JSON_BODIES:
        from django_mobile_sync.api.errors import PayloadTooLarge
        from django_mobile_sync.conf import sync_settings

        limit = int(sync_settings.MAX_BODY_BYTES)
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            error = PayloadTooLarge(limit)
            body = json.dumps({"detail": str(error.detail), "code": error.default_code}).encode()
            answer = [(b"content-type", b"application/json"), (b"connection", b"close")]
            answer.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": 413, "headers": answer})
            await send({"type": "http.response.body", "body": body})
            return
    await django_application(scope, receive, send)
