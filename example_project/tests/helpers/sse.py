"""A server-sent events client over a real socket, for the tests of ``{prefix}stream/``.

:class:`EventStream` opens the stream (``http.client``), reads it in a thread of its own and
parses each event (``id``, ``event``, ``data``; comment lines count as heartbeats), so a test
waits for the next event with a timeout.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import queue
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

PREFIX = "/api/v1/sync/"


@dataclass(frozen=True)
class Event:
    """One event as received: ``name`` is ``"comment"`` for a comment line."""

    name: str
    data: Any = None
    id: str | None = None
    at: float = 0.0


class EventStream:
    """``GET {prefix}stream/`` held open; ``status`` and ``headers`` once connected.

    Args:
        port: the server's port on 127.0.0.1.
        token: the user's API token (none: no ``Authorization``).
        query: the query string (``domains=a,b``).
        last_event_id: sent as ``Last-Event-ID``.
    """

    def __init__(
        self,
        port: int,
        token: str | None,
        query: str = "",
        last_event_id: str | None = None,
        timeout: float = 30,
    ) -> None:
        headers = {"Accept": "text/event-stream"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.connection.request(
            "GET", PREFIX + "stream/" + (f"?{query}" if query else ""), headers=headers
        )
        self.response = self.connection.getresponse()
        self.status = self.response.status
        self.headers = dict(self.response.headers)
        self.events: queue.Queue[Event] = queue.Queue()
        self.body: Any = None
        self.closed = False
        self.last_id: str | None = None  # the last event id received (for Last-Event-ID)
        if self.status == 200:
            threading.Thread(target=self._read, daemon=True).start()
        else:
            self.body = json.loads(self.response.read())
            self.connection.close()

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            while True:
                raw = self.response.readline()
                if not raw:
                    break
                line = raw.decode().rstrip("\n")
                if line.startswith(":"):
                    self.events.put(Event("comment", line[1:].strip(), at=time.monotonic()))
                elif line == "":
                    if "event" in fields or "data" in fields:
                        data = json.loads(fields["data"]) if "data" in fields else None
                        name = fields.get("event", "message")
                        if "id" in fields:
                            self.last_id = fields["id"]
                        self.events.put(Event(name, data, fields.get("id"), time.monotonic()))
                    fields = {}
                else:
                    key, _, value = line.partition(":")
                    fields[key] = value.removeprefix(" ")
        except Exception:  # the stream closed, however the socket ended
            pass
        self.events.put(Event("closed", at=time.monotonic()))

    def next(self, timeout: float = 5, skip_comments: bool = True) -> Event | None:
        """The next event (heartbeats skipped unless asked), or ``None`` after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                item = self.events.get(timeout=left)
            except queue.Empty:
                return None
            if item.name != "comment" or not skip_comments:
                return item

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(OSError):
                if self.connection.sock is not None:
                    self.connection.sock.shutdown(socket.SHUT_RDWR)
            self.connection.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
