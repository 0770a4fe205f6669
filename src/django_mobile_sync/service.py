"""``SyncService``: one domain's hooks, on behalf of one request.

The push and pull engines (:mod:`django_mobile_sync.engine`) call these hooks for every
decision that belongs to a domain (:class:`~django_mobile_sync.engine.SyncHooks` lists them).
Override them in a subclass and name it in the domain's ``service`` option (or
``DEFAULT_SERVICE_CLASS``).
:meth:`SyncService.push` and :meth:`SyncService.pull` run one domain's batch or page.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DEFAULT_DB_ALIAS, router
from django.db.models import Field, OuterRef, QuerySet, Subquery
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.serializers import BaseSerializer, Serializer

from .conf import sync_settings
from .domains import SyncDomain
from .engine import (
    START,
    DomainCursors,
    PushBatch,
    PushResult,
    Refusal,
    RowReader,
    decode_cursor,
    echo_cursor,
    encode_cursor,
    read_page,
)
from .engine.replicas import pull_database
from .engine.view_cursor import (
    VIEW_START,
    decode_view_cursor,
    echo_view_cursor,
    encode_view_cursor,
)
from .engine.view_pull import read_view_page
from .records.derived import derived_annotations, derived_values
from .records.relations import reference_fields
from .records.storable import format_timestamp, to_json
from .records.syncable import SyncableModelMixin
from .records.view_keys import EVERYTHING, KeySet, view_rule
from .resolvers import ConflictResolver, get_resolver
from .serializers import ReferenceField, create_validator, domain_serializer_class

if TYPE_CHECKING:
    User = AbstractBaseUser | AnonymousUser

__all__ = [
    "SyncService",
    "service_outside_request",
]


class SyncService:
    """One domain's push and pull hooks, on behalf of one user and device.

    Args:
        domain: the declaration.
        request: the DRF request, given to the scope and database callables.
        user: defaults to ``request.user``.
        device_id: ``X-Device-Id`` or the envelope's ``client_id``.
        scope: tenant field values; defaults to :meth:`get_scope`.
        using: database alias; defaults to :meth:`get_database`.
    """

    def __init__(
        self,
        domain: SyncDomain,
        *,
        request: Request | None = None,
        user: User | None = None,
        device_id: str = "",
        scope: Mapping[str, Any] | None = None,
        using: str | None = None,
    ) -> None:
        self.domain = domain
        self.model: type[SyncableModelMixin] = domain.model_class  # type: ignore[assignment]
        self.request = request
        self.user = user if user is not None else getattr(request, "user", None)
        self.device_id = device_id
        self.scope = dict(scope) if scope is not None else self.get_scope()
        self.using = using or self.get_database()
        self._serializers: dict[str, BaseSerializer[Any]] = {}
        self._row_reader: RowReader | None = None
        self._create: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    # -- who and where ----------------------------------------------------------------------
    def get_scope(self) -> dict[str, Any]:
        """Tenant field values of this request (``{}``: unscoped); scope runs once a request."""
        scope = self.domain.scope_callable
        if scope is None:
            return {}
        answers = getattr(self.request, "mobile_sync_scopes", {})  # the domains' shared scope
        if scope not in answers:
            answers[scope] = dict(scope(self.request))  # type: ignore[arg-type]
            if self.request is not None:
                setattr(self.request, "mobile_sync_scopes", answers)  # noqa: B010
        return dict(answers[scope])

    def get_database(self) -> str:
        """The database alias the whole push runs on, and that pulls read (or its standbys)."""
        database = self.domain.database_callable
        if database is not None:
            return database(self.request)  # type: ignore[arg-type]
        return str(router.db_for_write(self.model))

    def get_pull_database(self) -> str:
        """The database alias a pull page reads: a hot standby of :attr:`using` that
        ``PULL_DATABASES`` names (one at random), or :attr:`using` itself.

        A standby that cannot serve a page (not a standby of this database, lagging behind
        the device's cursor, down) leaves it to :attr:`using`, so an override only chooses
        where to try first.
        """
        return pull_database(self.using)

    def get_queryset(self) -> QuerySet[SyncableModelMixin]:
        """Every record of this tenant, tombstones included. All reads start here.

        Each reference (a foreign key to a synced model) is annotated with the referenced
        record's ``mobile_id`` (``sync_ref_<field>``), which is what its wire form needs.
        """
        queryset = self.model.sync_queryset(self.using).filter(**self.scope)
        annotations = {
            f"sync_ref_{name}": Subquery(
                related._base_manager.filter(pk=OuterRef(name)).values("mobile_id")[:1]
            )
            for name, related in reference_fields(self.domain).items()
        }
        return queryset.annotate(**annotations) if annotations else queryset

    def get_view_keys(self) -> KeySet:
        """The view keys this request's user sees (docs/views.md): by default from the
        domain's ``view`` declaration; every record for a domain without one."""
        rule = view_rule(self.domain)
        return EVERYTHING if rule is None else rule.keys_for(self.user)

    def accept_out_of_view(self, instance: SyncableModelMixin, entry: Mapping[str, Any]) -> bool:
        """Whether to apply ``entry`` to ``instance``, a record outside this user's view;
        ``False`` (the default) answers it ``out_of_view`` (docs/views.md#the-hook)."""
        return False

    # -- push -------------------------------------------------------------------------------
    def get_serializer_class(self) -> type[Serializer[Any]]:
        """The domain's serializer class: its ``serializer`` option, or one built from its
        ``fields`` (read-only where server-owned)."""
        return domain_serializer_class(self.domain)

    def get_serializer(
        self, instance: SyncableModelMixin | None = None, **kwargs: Any
    ) -> BaseSerializer[Any]:
        """The domain's serializer with this service's context."""
        context = {"request": self.request, "domain": self.domain, "service": self}
        return self.get_serializer_class()(instance, context=context, **kwargs)

    def validate_entry(
        self, data: dict[str, Any], instance: SyncableModelMixin | None
    ) -> dict[str, Any]:
        """Validated field values of one entry; raise ``ValidationError`` to reject it."""
        serializer = self._reused_serializer("update" if instance is not None else "create")
        # One serializer per batch, as a ListSerializer reuses its child: building one
        # (ModelSerializer.get_fields) costs more than validating an entry.
        serializer.instance, serializer.initial_data = instance, data
        if instance is None and isinstance(data, dict):
            if self._create is None:  # once per batch, like the serializer
                self._create = create_validator(serializer)
            return self._create(data)
        return dict(serializer.run_validation(data))

    def get_resolver(self) -> ConflictResolver:
        """The conflict resolver for this push's stale entries (the domain's, or the default)."""
        return get_resolver(
            self.domain.resolver or sync_settings.DEFAULT_RESOLVER, self.domain.option("resolver")
        )

    def check_initial_state(self, data: Mapping[str, Any]) -> Refusal | None:
        """Refuse a new record whose status is not a state of the domain's machine."""
        name = self.domain.status_field
        if not name or name not in data or data[name] in self.domain.states:
            return None
        return Refusal(
            f"{data[name]!r} is not a state of {name}.",
            {name: [f"Use one of {', '.join(sorted(self.domain.states))}."]},
        )

    def check_transition(
        self, instance: SyncableModelMixin, changes: Mapping[str, Any]
    ) -> Refusal | None:
        """Refuse a status change the domain's state machine does not allow."""
        name = self.domain.status_field
        if not name or name not in changes:
            return None
        old, new = getattr(instance, name), changes[name]
        if self.domain.can_transition(old, new):
            return None
        allowed = ", ".join((self.domain.transitions or {}).get(old, ())) or "none"
        message = f"{name} cannot change from {old} to {new} (allowed from {old}: {allowed})."
        return Refusal(message, {name: [message]})

    def before_save(self, instance: SyncableModelMixin, created: bool) -> None:
        """Called for each record about to be written (fields set, not yet saved)."""

    def append_history(
        self,
        instance: SyncableModelMixin,
        changes: Mapping[str, Any],
        at: str,
        version: int | None = None,
    ) -> None:
        """Append an entry for ``changes`` to the domain's history field, if it has one.

        ``at`` is the entry's timestamp (ISO-8601); ``version`` the version the change makes
        (``instance.version`` unless given). Raises ``UnstorableValue`` for a change no
        database can store.
        """
        name = self.domain.history_field
        if not name:
            return
        history = list(getattr(instance, name) or [])
        history.append(
            {
                "at": at,
                "version": instance.version if version is None else version,
                "user": self._user_label(),
                "device": self.device_id,
                "changes": to_json(
                    {k: getattr(v, "pk", v) for k, v in changes.items() if k != name}
                ),
            }
        )
        setattr(instance, name, history)

    def _user_label(self) -> str:
        """Who made a change, as history entries name them: the username."""
        if self.user is None or not getattr(self.user, "is_authenticated", False):
            return ""
        return str(self.user.get_username())

    def after_save(
        self, created: Sequence[SyncableModelMixin], updated: Sequence[SyncableModelMixin]
    ) -> None:
        """Called once per batch after the bulk writes, inside the transaction (again if
        the push runs again after PostgreSQL aborted it to break a deadlock)."""

    def push(
        self, entries: Sequence[Any], cursor: str = "", idempotency_key: str = ""
    ) -> PushResult:
        """Apply one domain's batch in one transaction and answer per entry."""
        batch = PushBatch(self.using, idempotency_key=idempotency_key)
        batch.add(self, entries)
        [result] = batch.apply()
        if self.domain.view is not None:
            echoed = echo_view_cursor(cursor, self.domain.name, self.scope, self.user)
        else:
            echoed = echo_cursor(cursor, DomainCursors(self.domain.name, self.scope))
        return PushResult(
            result.domain, result.outcomes, result.audits, timestamp=timezone.now(), cursor=echoed
        )

    # -- pull -------------------------------------------------------------------------------
    def get_pull_queryset(self, params: Mapping[str, Any]) -> QuerySet[SyncableModelMixin]:
        """Records a pull may serve, with the domain's filters applied from ``params``, and
        what the model's deriving fields need (:mod:`django_mobile_sync.records.derived`)."""
        queryset = self.get_queryset()
        derived = derived_annotations(self.model, self.scope)
        if derived:
            queryset = queryset.annotate(**derived)
        for param, lookup in self.domain.filters.items():
            value = params.get(param)
            if value in (None, ""):
                continue
            self._check_choice(param, lookup, value)
            try:
                queryset = queryset.filter(**{lookup: value})
            except (DjangoValidationError, ValueError, TypeError) as exc:
                message = getattr(exc, "messages", [str(exc)])[0]
                raise ValidationError(
                    {param: [f"{value!r} is not a valid {param}: {message}"]},
                    code="invalid_filter",
                ) from exc
        return queryset

    def _check_choice(self, param: str, lookup: str, value: Any) -> None:
        """Refuse a value outside the choices of a filter on a field with ``choices``.

        Such a filter would match nothing: a device that misspells a state would receive
        an empty page and believe there is nothing to do.
        """
        name, _, rest = lookup.partition("__")
        if rest not in ("", "exact"):
            return
        try:
            model_field = self.model._meta.get_field(name)
        except FieldDoesNotExist:
            return  # the ORM reports it
        if not isinstance(model_field, Field):
            return  # a reverse relation
        choices = [key for key, _label in model_field.flatchoices or []]
        if not choices:
            return
        try:
            typed = model_field.to_python(value)
        except DjangoValidationError:
            return  # the ORM lookup reports it
        if typed not in choices:
            listed = ", ".join(str(key) for key in choices)
            raise ValidationError(
                {param: [f"{value!r} is not a valid {param}: use one of {listed}."]},
                code="invalid_filter",
            )

    def serialize_record(self, instance: SyncableModelMixin) -> dict[str, Any]:
        """The wire form of one record (a tombstone for a deleted one)."""
        item = {
            "mobile_id": str(instance.mobile_id),
            "version": instance.version,
            "deleted": bool(instance.deleted),
            "updated_at": format_timestamp(instance.updated_at),
        }
        if instance.deleted:
            return item
        fields = self._reused_serializer("read").to_representation(instance)
        return {**fields, **derived_values(instance, self.scope), **item}

    def row_reader(self) -> RowReader:
        """How a pull reads this domain's rows: as columns when the wire form is the
        library's own (no hook of it overridden, no ``serializer``; ``engine/rows.py``)."""
        if self._row_reader is None:
            if self.domain.serializer is None and all(
                getattr(type(self), name) is getattr(SyncService, name)
                for name in ("serialize_record", "get_serializer_class", "get_serializer")
            ):
                serializer = self._reused_serializer("read")
                self._row_reader = RowReader(self, serializer, ReferenceField)
            else:
                self._row_reader = RowReader(self)
        return self._row_reader

    def _reused_serializer(self, purpose: str) -> BaseSerializer[Any]:
        """The serializer this service reuses for ``purpose`` (create, update or read)."""
        if purpose not in self._serializers:
            self._serializers[purpose] = self.get_serializer(partial=purpose == "update")
        return self._serializers[purpose]

    def pull(
        self,
        cursor: str | None = None,
        limit: int | None = None,
        since: datetime.datetime | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One page of changes after ``cursor`` (or from the start), as the wire has it."""
        limit = min(limit or sync_settings.DEFAULT_PAGE_SIZE, self.domain.page_limit)
        if self.domain.view is not None:
            return self._pull_view(cursor, limit, params)
        position = decode_cursor(cursor, self.domain.name, self.scope) if cursor else START
        page = read_page(
            self, position, limit, since=None if cursor else since, params=params or {}
        )
        return {
            "items": page.items,
            "has_more": page.has_more,
            "next_cursor": encode_cursor(self.domain.name, self.scope, page.position),
            "next_timestamp": format_timestamp(page.started),
        }

    def _pull_view(
        self, cursor: str | None, limit: int, params: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """:meth:`pull` of a domain with a view: removals and backfill (docs/views.md)."""
        name, position = self.domain.name, VIEW_START
        if cursor:
            position = decode_view_cursor(cursor, name, self.scope, self.user)
        page = read_view_page(self, position, limit, params or {})
        return {
            "items": page.items,
            "has_more": page.has_more,
            "next_cursor": encode_view_cursor(name, self.scope, self.user, page.position),
            "next_timestamp": format_timestamp(page.started),
        }


def service_outside_request(domain: SyncDomain) -> SyncService:
    """The domain's service with no request: how the system checks and the OpenAPI schema
    ask its hooks (``get_resolver()``, ``get_serializer_class()``), so that an override
    reaches them as it reaches a push."""
    return domain.service_class(domain, scope={}, using=DEFAULT_DB_ALIAS)
