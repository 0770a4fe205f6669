"""What makes a row syncable: its stamping writes, ids, relations, change clock and JSON.

The layer under the engine: everything here is about one synced row or one model, never a
request. ``django_mobile_sync.models`` re-exports what a project's models need
(``SyncableModelMixin``, ``TextMobileIdField``, ``RewriteHexUUIDs``).
"""

from __future__ import annotations

from .bulk import any_of, bulk_update, in_values, lock_live
from .clock import ClockReading, after_position, next_change_seq, read_clock
from .derived import (
    DerivingField,
    derived_annotations,
    derived_serializer_fields,
    derived_values,
    deriving_fields,
)
from .ids import (
    TEXT_ID_MAX_LENGTH,
    TEXT_ID_PATTERN,
    TEXT_ID_RULE,
    MobileId,
    RewriteHexUUIDs,
    TextMobileIdField,
    id_order,
    id_rule,
    new_text_id,
    read_mobile_id,
    uses_text_ids,
)
from .indexes import recommended_index, serves_pulls
from .moves import move_model, tenant_digest
from .parent_guards import connect_parent_guards
from .relations import (
    apply_on_delete,
    is_synced,
    lock_rank,
    protected_counts,
    reference_fields,
    synced_children,
)
from .storable import format_timestamp, text_problem, to_json
from .syncable import (
    STAMP_FIELDS,
    AllObjectsManager,
    SyncableModelMixin,
    SyncManager,
    SyncQuerySet,
    tenant_field_names,
)
from .view_keys import EVERYTHING, KeySet, ViewRule, key_q, view_rule

__all__ = [
    "EVERYTHING",
    "STAMP_FIELDS",
    "TEXT_ID_MAX_LENGTH",
    "TEXT_ID_PATTERN",
    "TEXT_ID_RULE",
    "AllObjectsManager",
    "ClockReading",
    "DerivingField",
    "KeySet",
    "MobileId",
    "RewriteHexUUIDs",
    "SyncManager",
    "SyncQuerySet",
    "SyncableModelMixin",
    "TextMobileIdField",
    "ViewRule",
    "after_position",
    "any_of",
    "apply_on_delete",
    "bulk_update",
    "connect_parent_guards",
    "derived_annotations",
    "derived_serializer_fields",
    "derived_values",
    "deriving_fields",
    "format_timestamp",
    "id_order",
    "id_rule",
    "in_values",
    "is_synced",
    "key_q",
    "lock_live",
    "lock_rank",
    "move_model",
    "new_text_id",
    "next_change_seq",
    "protected_counts",
    "read_clock",
    "read_mobile_id",
    "recommended_index",
    "reference_fields",
    "serves_pulls",
    "synced_children",
    "tenant_digest",
    "tenant_field_names",
    "text_problem",
    "to_json",
    "uses_text_ids",
    "view_rule",
]
