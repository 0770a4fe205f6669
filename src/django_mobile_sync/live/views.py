"""``GET {prefix}stream/``: a live stream of pokes, as server-sent events (docs/live.md).

:class:`StreamGate` is a DRF view like every sync endpoint (authentication, permissions,
the domains, JSON errors whatever ``Accept`` says); it answers an error, or grants the
stream. :func:`stream_view` is async: it runs the gate and the registration in a thread,
releases that thread's database connections, and then holds the stream on the event loop
without a connection of its own (the thread Django's ASGI handler keeps for the request
stays idle), so one ASGI process holds thousands.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import connections
from django.db.models import Model
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    StreamingHttpResponse,
)
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request

from django_mobile_sync.conf import sync_settings
from django_mobile_sync.domains import SyncDomain, get_domain, get_domains
from django_mobile_sync.records import view_rule
from django_mobile_sync.service import SyncService
from django_mobile_sync.views import MultiDomainView

from . import events
from .access import access_alias, user_key
from .access import changed_since as access_changed_since
from .backends import start_listener
from .detector import Follow, Subscription, get_detector
from .events import Mark, decode_event_id
from .leases import acquire_lease

#: The reconnection delay (ms) the stream suggests to ``EventSource``.
RETRY_MS = 2000


class FirstRenderer(BaseContentNegotiation):
    """Errors are JSON whatever ``Accept`` says (a client sends ``text/event-stream``)."""

    def select_parser(self, request: Request, parsers: Iterable[Any]) -> Any:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[Any], format_suffix: str | None = None
    ) -> tuple[Any, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class TooManyStreams(exceptions.Throttled):
    default_detail = "This user has too many open streams; close one or retry later."
    default_code = "too_many_streams"


@dataclass
class Grant:
    """A stream the gate allowed: what it follows, its lease, its user's services."""

    services: list[SyncService]
    follows: tuple[Follow, ...]
    lease: int
    user: str


class Granted(HttpResponse):
    """The gate's answer when the stream may start (never sent as such)."""

    def __init__(self, grant: Grant) -> None:
        super().__init__(status=200)
        self.grant = grant


class StreamGate(MultiDomainView):
    """Everything a stream checks before it starts; any refusal is a JSON answer."""

    schema = None  # not a REST resource: docs/live.md documents it
    throttle_classes = ()  # MAX_STREAMS_PER_USER limits streams (a 429 too)
    content_negotiation_class = FirstRenderer

    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        domains = self.stream_domains(request.query_params.get("domains"))
        self.check_schema_version(domains)
        services = [self.get_service(domain) for domain in domains]
        follows = tuple(follow_of(service) for service in services)
        heartbeat = float(sync_settings.STREAM_HEARTBEAT)
        lease = acquire_lease(
            str(request.user.pk),
            get_detector().holder,
            int(sync_settings.MAX_STREAMS_PER_USER),
            heartbeat,
        )
        if lease is None:
            raise TooManyStreams(wait=heartbeat)
        return Granted(Grant(services, follows, lease, user_key(request.user)))

    def stream_domains(self, listed: str | None) -> list[SyncDomain]:
        """``?domains=a,b``, or every domain the user may read; ``404`` for a domain that is
        unknown or that the user may not read, worded alike."""
        if listed is None or not listed.strip():
            return [d for d in get_domains().values() if self.may_use(d.name)]
        names = [name.strip() for name in listed.split(",") if name.strip()]
        for name in names:
            if get_domain(name) is None or not self.may_use(name):
                raise exceptions.NotFound(
                    f"There is no sync domain named {name!r}.", code="unknown_domain"
                )
        return [d for d in get_domains().values() if d.name in set(names)]


def follow_of(service: SyncService) -> Follow:
    """What the detector needs to know of one domain of a stream: its tenant as values of
    the tenant fields' columns (a foreign key's primary key)."""
    model = service.model
    columns, tenant = [], []
    for key, value in sorted(service.scope.items()):
        try:
            field = model._meta.get_field(key)
        except FieldDoesNotExist:
            raise ImproperlyConfigured(
                f"Live streams: the scope of {service.domain.name!r} names {key!r}, which is "
                "not a field of its model; a scope gives tenant field values (docs/live.md)."
            ) from None
        columns.append(field.attname)  # type: ignore[union-attr]
        tenant.append(value.pk if isinstance(value, Model) else value)
    return Follow(
        service.domain.name,
        model,
        service.using,
        tuple(columns),
        tuple(tenant) if columns else None,
        view_rule(service.domain) is not None,
    )


def changed_since(
    services: Sequence[SyncService], old: dict[str, Mark] | None, user: str
) -> list[str]:
    """The domains with a change the user can see since the marks of a ``Last-Event-ID``
    (all of them for an unknown, foreign or malformed one), a change of the user's access
    included (every domain with a view)."""
    changed = []
    access = access_alias()
    mark = (old or {}).get(access)
    if mark is None or access_changed_since(access, user, mark.horizon):
        changed = [s.domain.name for s in services if view_rule(s.domain) is not None]
    for service in services:
        if service.domain.name in changed:
            continue
        mark = (old or {}).get(service.using)
        if mark is None:
            changed.append(service.domain.name)
            continue
        current = get_detector().read_mark(service.using)
        foreign = (mark.cluster, mark.reset) != (current.cluster, current.reset)
        if foreign or service.get_queryset().filter(change_seq__gte=mark.horizon).exists():
            changed.append(service.domain.name)
    return changed


def grant_stream(request: HttpRequest) -> Grant | HttpResponseBase:
    """In a thread: the gate (a JSON error, or the grant and its lease); then this thread's
    database connections are closed, as the stream holds none."""
    try:
        response = StreamGate.as_view()(request)
        if isinstance(response, Granted):
            return response.grant
        if hasattr(response, "render"):
            response.render()
        return response
    finally:
        close_connections()


def start_stream(
    grant: Grant, subscription: Subscription, last_event_id: str | None
) -> tuple[str, list[str]]:
    """In a thread, once the stream is sent: register it with the detector; the ``ready``
    event's id and, for a resumed stream, the domains that changed since its last event."""
    try:
        detector = get_detector()
        ready_id, _marks = detector.subscribe(subscription)
        start_listener(detector)  # the back end's, once per process
        if last_event_id is None:
            return ready_id, []
        resumed = decode_event_id(last_event_id)
        changed = changed_since(grant.services, resumed, subscription.user)
        return ready_id, [f.domain for f in grant.follows if f.domain in changed]
    finally:
        close_connections()


def close_connections() -> None:
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


async def event_stream(
    grant: Grant, subscription: Subscription, last_event_id: str | None
) -> AsyncIterator[bytes]:
    """``ready``, a ``poke`` at once for a resumed stream that missed changes, then pokes
    as the detector delivers them, and a heartbeat comment every ``STREAM_HEARTBEAT``."""
    heartbeat = float(sync_settings.STREAM_HEARTBEAT)
    try:
        ready_id, resume = await sync_to_async(start_stream)(grant, subscription, last_event_id)
        seconds = int(heartbeat) if heartbeat.is_integer() else heartbeat
        ready = {"domains": [follow.domain for follow in grant.follows], "heartbeat": seconds}
        # The services (and the DRF request and view they hold) are not needed while the
        # stream is held: every object a stream keeps is walked by each full collection of
        # the garbage collector, in the process that serves the pushes and pulls too.
        del grant
        yield events.event("ready", ready, ready_id, retry=RETRY_MS)
        if resume:
            yield events.poke(resume, ready_id)
        next_comment = time.monotonic() + heartbeat
        while True:
            wait = next_comment - time.monotonic()
            if wait <= 0:
                yield events.comment("heartbeat")
                next_comment = time.monotonic() + heartbeat
                continue
            try:
                await asyncio.wait_for(subscription.changed.wait(), wait)
            except TimeoutError:
                continue
            domains, event_id = subscription.take()
            if domains:
                yield events.poke(domains, event_id)
    finally:
        get_detector().unsubscribe(subscription)


class EventStreamResponse(StreamingHttpResponse):
    """The stream; closing it (Django does at the end of every request, whether or not the
    stream was sent) ends its subscription and frees its lease."""

    def __init__(self, grant: Grant, last_event_id: str | None) -> None:
        self.subscription = Subscription(
            grant.follows, asyncio.get_running_loop(), grant.lease, grant.user
        )
        stream = event_stream(grant, self.subscription, last_event_id)
        super().__init__(stream, content_type="text/event-stream")
        self["Cache-Control"] = "no-cache"
        self["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once

    def close(self) -> None:
        get_detector().unsubscribe(self.subscription)
        super().close()


@csrf_exempt
async def stream_view(request: HttpRequest) -> HttpResponseBase:
    """``GET {prefix}stream/``: see the module's docstring."""
    if request.method != "GET":
        return JsonResponse(
            {"detail": f'Method "{request.method}" not allowed.', "code": "method_not_allowed"},
            status=405,
            headers={"Allow": "GET"},
        )
    granted = await sync_to_async(grant_stream)(request)
    if not isinstance(granted, Grant):
        return granted
    return EventStreamResponse(granted, request.headers.get("Last-Event-ID"))
