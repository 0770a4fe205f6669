"""DRF views of the sync protocol, and the factory that builds them per domain."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.http import HttpResponse
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from . import client_versions, idempotency
from .conf import sync_settings
from .domains import SyncDomain, get_domain
from .handlers import sync_exception_handler
from .parsers import SyncJSONParser, check_content_length
from .renderers import SyncJSONRenderer
from .schema import SyncViewSchema
from .serializers import PullQuerySerializer, PushRequestSerializer
from .service import SyncService
from .storable import text_problem
from .throttling import first_refusal


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
        version = self.request.headers.get(client_versions.HEADER)
        client_versions.check_client_schema(version, domains)

    def read_envelope(
        self, serializer_class: type[Serializer[Any]], expected: str
    ) -> Serializer[Any]:
        """The push envelope, validated (after the ``Idempotency-Key`` header)."""
        key = self.request.headers.get(idempotency.HEADER)
        if key is not None:
            idempotency.validate_key(key)
        self.idempotency_key = key
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
        check_batch_size(len(entries), domain.batch_limit)
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


def check_batch_size(size: int, limit: int) -> None:
    """A 400 naming the limit when a push carries more than ``limit`` entries."""
    if size > limit:
        raise exceptions.ValidationError(
            {
                "entries": [
                    f"At most {limit} entries per batch (MAX_BATCH_SIZE); this batch has {size}."
                ]
            },
            code="batch_too_large",
        )


def sync_views(domain_name: str) -> tuple[type[PushView], type[ChangesView]]:
    """The push and changes view classes of one domain (named, for the OpenAPI schema)."""
    camel = "".join(part.title() for part in domain_name.replace("-", "_").split("_"))
    push = type(f"{camel}PushView", (PushView,), {"domain_name": domain_name})
    changes = type(f"{camel}ChangesView", (ChangesView,), {"domain_name": domain_name})
    return push, changes
