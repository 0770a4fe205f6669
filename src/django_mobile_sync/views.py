"""The DRF views of the sync protocol: one domain's push and pull, several domains' in one
round trip, and the factory that builds them per domain.

- :class:`SyncAPIView`: the base of every sync endpoint, a client protocol's included (DRF
  classes at three levels, JSON errors, the envelope, the ``Idempotency-Key`` claim);
- :class:`PushView`, :class:`ChangesView`: ``POST {prefix}{domain}/sync/`` and
  ``GET {prefix}{domain}/changes/`` (docs/protocol.md#push, docs/protocol.md#pull);
- :class:`MultiDomainView`, :class:`MultiPushView`, :class:`MultiChangesView`:
  ``POST {prefix}sync/`` and ``GET {prefix}changes/``
  (docs/protocol.md#several-domains-in-one-request): the listed domains, checked, in feed
  order, in one transaction or behind one cursor;
- :func:`missing_slash`: an endpoint's URL without its trailing slash.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from .api import (
    ENTRIES,
    SCHEMA_VERSION_HEADER,
    SyncJSONParser,
    SyncJSONRenderer,
    SyncViewSchema,
    check_client_schema,
    check_content_length,
    idempotency,
    sync_exception_handler,
)
from .api.envelopes import (
    MultiPullQuerySerializer,
    MultiPushRequestSerializer,
    PullQuerySerializer,
    PushRequestSerializer,
)
from .api.schema import MultiSchemaMixin
from .conf import sync_settings
from .domains import SyncDomain, get_domain, get_domains
from .engine import (
    FEED_START,
    ChangeFeed,
    FeedCursors,
    MultiPushResult,
    PushBatch,
    decode_feed_cursor,
    echo_cursor,
    encode_feed_cursor,
    parents_first_domains,
)
from .engine.view_feed import ViewFeed
from .exceptions import InvalidCursor
from .records import text_problem
from .service import SyncService
from .throttling import first_refusal

__all__ = [
    "ChangesView",
    "MultiChangesView",
    "MultiDomainView",
    "MultiPushView",
    "PushView",
    "SyncAPIView",
    "missing_slash",
    "sync_views",
]

#: The idempotency scope of the multi-domain push (no domain is named ``*``).
IDEMPOTENCY_SCOPE = "*"


class SyncAPIView(APIView):
    """Common base: the domain, DRF classes, JSON errors.

    DRF classes come from three levels, the most specific first: a class attribute set on a
    subclass (``permission_classes = [...]``), the domain's option
    (``SyncDomain(permission_classes=[...])``), then ``MOBILE_SYNC`` (and, for
    authentication, DRF's own defaults).
    """

    domain_name = ""  # set by the factory; else taken from the URL's ``domain``
    idempotency_key: str | None = None
    parser_classes = [SyncJSONParser]
    schema = SyncViewSchema()  # described by drf-spectacular when the project uses it
    authentication_classes: Sequence[type[Any]] | None = None  # type: ignore[assignment]
    permission_classes: Sequence[type[Any]] | None = None  # type: ignore[assignment]
    throttle_classes: Sequence[type[Any]] | None = None  # type: ignore[assignment]

    def api_classes(self, option: str, default: Sequence[type[Any]]) -> Sequence[type[Any]]:
        """The classes of ``option`` (``permission_classes``...) at the most specific level."""
        own = getattr(self, option)
        if own is not None:
            return list(own)
        domain = get_domain(self.domain_name or self.kwargs.get("domain", ""))
        declared = domain.api_classes(option) if domain is not None else None
        return declared if declared is not None else list(default)

    def get_authenticators(self) -> list[Any]:
        default = sync_settings.AUTHENTICATION_CLASSES
        if default is None:
            default = api_settings.DEFAULT_AUTHENTICATION_CLASSES
        return [cls() for cls in self.api_classes("authentication_classes", default)]

    def get_permissions(self) -> list[Any]:
        return [
            cls()
            for cls in self.api_classes("permission_classes", sync_settings.PERMISSION_CLASSES)
        ]

    def get_throttles(self) -> list[Any]:
        return [
            cls() for cls in self.api_classes("throttle_classes", sync_settings.THROTTLE_CLASSES)
        ]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        check_content_length(request.META)

    def check_throttles(self, request: Request) -> None:
        """Stop at the first throttle that refuses: the others do not count the request
        (see :func:`django_mobile_sync.throttling.first_refusal`)."""
        refusal = first_refusal(self.get_throttles(), request, self)
        if refusal is not None:
            # DRF sends no Retry-After for None, as its own check_throttles may pass.
            self.throttled(request, refusal.wait)  # type: ignore[arg-type]

    def get_exception_handler(self) -> Any:
        return sync_exception_handler

    def get_renderers(self) -> list[Any]:
        return [
            SyncJSONRenderer() if cls is JSONRenderer else cls() for cls in self.renderer_classes
        ]

    def throttle_domain(self) -> SyncDomain | None:
        """The domain whose ``throttle_rates`` apply (``None`` for several domains)."""
        return self.get_domain()

    def get_domain(self) -> SyncDomain:
        name = self.domain_name or self.kwargs.get("domain", "")
        domain = get_domain(name)
        if domain is None:
            raise exceptions.NotFound(
                f"There is no sync domain named {name!r}.", code="unknown_domain"
            )
        return domain

    def check_schema_version(self, domains: Iterable[SyncDomain]) -> None:
        """A ``426`` when the device's ``X-Client-Schema-Version`` is older than one of
        ``domains`` accepts; call it before reading or applying anything."""
        version = self.request.headers.get(SCHEMA_VERSION_HEADER)
        check_client_schema(version, domains)

    def read_envelope(
        self, serializer_class: type[Serializer[Any]], expected: str
    ) -> Serializer[Any]:
        """The push envelope, validated (after the ``Idempotency-Key`` header)."""
        self.idempotency_key = idempotency.read_key(self.request)
        if not isinstance(self.request.data, dict):
            raise exceptions.ValidationError(
                {"non_field_errors": [f"The body must be a JSON object with {expected}."]},
                code="invalid_envelope",
            )
        envelope = serializer_class(data=self.request.data)
        envelope.is_valid(raise_exception=True)
        return envelope

    def claim_idempotency(self, scope: str, using: str) -> HttpResponse | None:
        """Take the request's ``Idempotency-Key`` (if any) for ``scope``; a replay if done."""
        key = self.idempotency_key
        if key is None:
            return None
        claim = idempotency.claim(
            str(self.request.user.pk),
            scope,
            key,
            idempotency.request_fingerprint(self.request.data),
            using,
        )
        if claim.replay is not None:
            return claim.replay
        self.idempotency_claim = (claim.record, using)
        return None

    def release_idempotency(self) -> None:
        """Free the request's ``Idempotency-Key``: its answer is not final (the device retries
        the same request later)."""
        claimed = getattr(self, "idempotency_claim", None)
        if claimed is not None:
            record, using = claimed
            idempotency.release(record, using)
            del self.idempotency_claim

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        claimed = getattr(self, "idempotency_claim", None)
        if claimed is not None:
            record, using = claimed
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
            idempotency.finish(record, response, using)
        return response

    def get_service(self, domain: SyncDomain, client_id: str = "") -> SyncService:
        device_id = self.request.headers.get("X-Device-Id") or client_id or ""
        problem = text_problem(device_id)
        if problem is not None:
            raise exceptions.ValidationError(
                {"X-Device-Id": [f"The device id {problem}."]}, code="invalid_device_id"
            )
        return domain.service_class(domain, request=self.request, device_id=device_id)


class PushView(SyncAPIView):
    """``POST {prefix}{domain}/sync/``: apply a batch of device changes."""

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        domain = self.get_domain()
        self.check_schema_version([domain])
        envelope = self.read_envelope(PushRequestSerializer, "an 'entries' list")
        entries: list[Any] = request.data["entries"]  # type: ignore[call-overload]
        ENTRIES.check(len(entries), domain.batch_limit)
        service = self.get_service(domain, envelope.validated_data.get("client_id", ""))
        replay = self.claim_idempotency(domain.name, service.using)
        if replay is not None:
            return replay
        result = service.push(
            entries,
            cursor=envelope.validated_data.get("cursor", ""),
            idempotency_key=self.idempotency_key or "",
        )
        return Response(result.as_dict())


class ChangesView(SyncAPIView):
    """``GET {prefix}{domain}/changes/``: one page of changes after a cursor."""

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        domain = self.get_domain()
        self.check_schema_version([domain])
        query = PullQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = self.get_service(domain).pull(
            cursor=query.validated_data.get("cursor"),
            limit=query.validated_data.get("limit"),
            since=query.validated_data.get("since"),
            params=request.query_params,
        )
        return Response(page)


class MultiDomainView(SyncAPIView):
    """Common base: the domains a request names, each checked and in feed order."""

    schema = SyncViewSchema(MultiSchemaMixin)

    def throttle_domain(self) -> SyncDomain | None:
        return None  # several domains: the global rates, counted once per request

    def named_domains(self, names: Sequence[str], option: str) -> list[SyncDomain]:
        """The declared domains of ``names``, parents first; a 400 naming any other."""
        unknown = [name for name in names if get_domain(name) is None]
        refused = [name for name in names if name not in unknown and not self.may_use(name)]
        if unknown or refused:
            problem = "unknown" if unknown else "not permitted"
            listed = ", ".join(repr(name) for name in unknown or refused)
            raise exceptions.ValidationError(
                {option: [f"These domains are {problem}: {listed}. Nothing was applied."]},
                code="invalid_domains",
            )
        domains = [d for d in get_domains().values() if d.name in set(names)]
        return parents_first_domains(domains)

    def may_use(self, name: str) -> bool:
        """Whether the domain's own permission classes let this request use it."""
        domain = get_domain(name)
        classes = domain.api_classes("permission_classes") if domain is not None else None
        if classes is None:
            return True  # the view's, already checked
        return all(cls().has_permission(self.request, self) for cls in classes)

    def services(self, domains: Sequence[SyncDomain], client_id: str = "") -> list[SyncService]:
        services = [self.get_service(domain, client_id) for domain in domains]
        databases = sorted({service.using for service in services})
        if len(databases) > 1:
            raise exceptions.ValidationError(
                {
                    "domains": [
                        "These domains live in different databases "
                        f"({', '.join(databases)}); sync them in separate requests."
                    ]
                },
                code="several_databases",
            )
        return services


class MultiPushView(MultiDomainView):
    """``POST {prefix}sync/``: the entries of several domains, in one transaction."""

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        envelope = self.read_envelope(MultiPushRequestSerializer, "a 'domains' object")
        parts: dict[str, dict[str, Any]] = envelope.validated_data["domains"]
        domains = self.named_domains(list(parts), "domains")
        self.check_schema_version(domains)
        ENTRIES.check(sum(len(part["entries"]) for part in parts.values()))
        for domain in domains:
            ENTRIES.check(len(parts[domain.name]["entries"]), domain.batch_limit)
        services = self.services(domains, envelope.validated_data.get("client_id", ""))
        using = services[0].using if services else "default"
        replay = self.claim_idempotency(IDEMPOTENCY_SCOPE, using)
        if replay is not None:
            return replay
        batch = PushBatch(using, idempotency_key=self.idempotency_key or "")
        for service in services:
            batch.add(service, parts[service.domain.name]["entries"])
        results = batch.apply() if services else []
        by_name = {result.domain: result for result in results}
        ordered = [by_name[name] for name in parts]  # as the device listed them
        sent = envelope.validated_data.get("cursor", "")
        cursor = echo_feed(services, sent) if services else ""
        return Response(MultiPushResult(ordered, timezone.now(), cursor).as_dict())


class MultiChangesView(MultiDomainView):
    """``GET {prefix}changes/?domains=a,b``: one page of changes across several domains."""

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        query = MultiPullQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        names = query.validated_data.get("domains") or [
            name for name in get_domains() if self.may_use(name)
        ]
        domains = self.named_domains(names, "domains")
        self.check_schema_version(domains)
        if not domains:
            return Response({"changes": {}, "has_more": False, "next_cursor": ""})
        services = self.services(domains)
        cursor = query.validated_data.get("cursor")
        wanted = query.validated_data.get("limit") or sync_settings.DEFAULT_PAGE_SIZE
        limit = min(wanted, int(sync_settings.MAX_PAGE_SIZE))
        if any(domain.view is not None for domain in domains):  # docs/views.md
            view_feed = ViewFeed(services)
            page, views = view_feed.read_views(*view_feed.decode(cursor), limit)
            next_cursor = view_feed.encode(page.position, views)
        else:
            feed = ChangeFeed(services)
            position = decode_feed_cursor(cursor, feed.scopes) if cursor else FEED_START
            page = feed.read(position, limit)
            next_cursor = encode_feed_cursor(feed.scopes, page.position)
        return Response(
            {"changes": page.changes, "has_more": page.has_more, "next_cursor": next_cursor}
        )


def echo_feed(services: list[SyncService], sent: str) -> str:
    """The feed cursor a multi-domain push answer echoes (docs/protocol.md#the-cursor-field)."""
    if not any(service.domain.view is not None for service in services):
        return echo_cursor(sent, FeedCursors(ChangeFeed(services).scopes))
    feed = ViewFeed(services)
    try:
        return feed.encode(*feed.decode(sent))
    except InvalidCursor:
        return feed.encode(*feed.decode(""))


def sync_views(domain_name: str) -> tuple[type[PushView], type[ChangesView]]:
    """The push and changes view classes of one domain (named, for the OpenAPI schema)."""
    camel = "".join(part.title() for part in domain_name.replace("-", "_").split("_"))
    push = type(f"{camel}PushView", (PushView,), {"domain_name": domain_name})
    changes = type(f"{camel}ChangesView", (ChangesView,), {"domain_name": domain_name})
    return push, changes


@csrf_exempt
def missing_slash(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    """An endpoint's URL without its trailing slash.

    Django's ``APPEND_SLASH`` would answer a ``301`` with an HTML body, which a device's HTTP
    client follows as a ``GET`` (dropping the push) or cannot read; a push gets a JSON ``404``
    naming the right URL instead. ``GET`` and ``HEAD`` are still redirected under
    ``APPEND_SLASH``, query string included.
    """
    target = request.get_full_path(force_append_slash=True)
    if request.method in ("GET", "HEAD") and settings.APPEND_SLASH:
        return HttpResponsePermanentRedirect(target)
    return JsonResponse(
        {
            "detail": f"This URL needs a trailing slash: {request.method} {target}",
            "code": "missing_trailing_slash",
        },
        status=404,
    )
