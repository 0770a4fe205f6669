"""``SyncHooks``: what the engine asks of a domain's service, and nothing more.

The push and pull engines take a service as an argument and call its hooks for every decision
that belongs to a domain. They depend on this protocol, never on
:class:`~django_mobile_sync.service.SyncService` itself (which implements it), so the engine
sits below the service in the layers of docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from django.db.models import QuerySet
    from rest_framework.request import Request

    from ..domains import SyncDomain
    from ..records import SyncableModelMixin
    from ..records.view_keys import KeySet
    from ..resolvers import ConflictResolver
    from .outcomes import Refusal
    from .rows import RowReader


class SyncHooks(Protocol):
    """One domain's hooks on behalf of one request (see docs/domains.md#syncservice-hooks).

    Attributes:
        domain: the declaration.
        model: the domain's model.
        request: the request, if there is one.
        user: who pushes or pulls (recorded in the audit and batch logs).
        device_id: the device (recorded with the user).
        scope: the tenant field values of the request.
        using: the database alias the push runs on.
    """

    @property
    def domain(self) -> SyncDomain: ...

    @property
    def model(self) -> type[SyncableModelMixin]: ...

    @property
    def request(self) -> Request | None: ...

    @property
    def user(self) -> Any: ...

    @property
    def device_id(self) -> str: ...

    @property
    def scope(self) -> Mapping[str, Any]: ...

    @property
    def using(self) -> str: ...

    def get_queryset(self) -> QuerySet[SyncableModelMixin]: ...

    def validate_entry(
        self, data: dict[str, Any], instance: SyncableModelMixin | None
    ) -> dict[str, Any]: ...

    def get_resolver(self) -> ConflictResolver: ...

    def check_initial_state(self, data: Mapping[str, Any]) -> Refusal | None: ...

    def check_transition(
        self, instance: SyncableModelMixin, changes: Mapping[str, Any]
    ) -> Refusal | None: ...

    def before_save(self, instance: SyncableModelMixin, created: bool) -> None: ...

    def append_history(
        self,
        instance: SyncableModelMixin,
        changes: Mapping[str, Any],
        at: str,
        version: int | None = None,
    ) -> None: ...

    def after_save(
        self, created: Sequence[SyncableModelMixin], updated: Sequence[SyncableModelMixin]
    ) -> None: ...

    def get_pull_database(self) -> str: ...

    def get_view_keys(self) -> KeySet: ...

    def accept_out_of_view(
        self, instance: SyncableModelMixin, entry: Mapping[str, Any]
    ) -> bool: ...

    def get_pull_queryset(self, params: Mapping[str, Any]) -> QuerySet[SyncableModelMixin]: ...

    def serialize_record(self, instance: SyncableModelMixin) -> dict[str, Any]: ...

    def row_reader(self) -> RowReader: ...
