"""One round trip for several domains (SPEC §8): ``POST {prefix}sync/`` and
``GET {prefix}changes/``.

The push applies every listed domain's entries in one transaction through
:class:`~django_mobile_sync.push.PushBatch` (parents before children) and answers each
domain's lists as a single-domain push would. The pull is a
:class:`~django_mobile_sync.pull.ChangeFeed` over the listed domains (default: every domain
the user may read) behind one signed cursor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from .conf import sync_settings
from .cursor import FEED_START, decode_feed_cursor, encode_feed_cursor
from .domains import SyncDomain, get_domain, get_domains
from .exceptions import InvalidCursor
from .multi_schema import MultiSchemaMixin
from .outcomes import MultiPushResult
from .pull import ChangeFeed
from .push import PushBatch
from .references import parents_first_domains
from .schema import SyncViewSchema
from .serializers import MultiPullQuerySerializer, MultiPushRequestSerializer
from .service import SyncService
from .views import SyncAPIView, check_batch_size

#: The idempotency scope of the multi-domain push (no domain is named ``*``).
IDEMPOTENCY_SCOPE = "*"


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
        check_batch_size(sum(len(part["entries"]) for part in parts.values()), batch_limit())
        for domain in domains:
            check_batch_size(len(parts[domain.name]["entries"]), domain.batch_limit)
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
        cursor = echo_feed_cursor(envelope.validated_data.get("cursor", ""), services)
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
        feed = ChangeFeed(self.services(domains))
        cursor = query.validated_data.get("cursor")
        position = decode_feed_cursor(cursor, feed.scopes) if cursor else FEED_START
        wanted = query.validated_data.get("limit") or sync_settings.DEFAULT_PAGE_SIZE
        limit = min(wanted, int(sync_settings.MAX_PAGE_SIZE))
        page = feed.read(position, limit)
        return Response(
            {
                "changes": page.changes,
                "has_more": page.has_more,
                "next_cursor": encode_feed_cursor(feed.scopes, page.position),
            }
        )


def batch_limit() -> int:
    return int(sync_settings.MAX_BATCH_SIZE)


def echo_feed_cursor(cursor: str, services: Sequence[SyncService]) -> str:
    """The device's feed cursor over these domains, validated, or the start of the feed."""
    if not services:
        return ""
    scopes = ChangeFeed(services).scopes
    position = FEED_START
    if cursor:
        try:
            position = decode_feed_cursor(cursor, scopes)
        except InvalidCursor:
            position = FEED_START
    return encode_feed_cursor(scopes, position)
