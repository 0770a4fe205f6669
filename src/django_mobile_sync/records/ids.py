"""Record ids: a synced record's ``mobile_id``, a UUID or, where a model opts in, a text id.

A device names each record it creates offline with an id of its own. By default that is a
UUID (the mixin's ``UUIDField``). WatermelonDB gives its records 16-character ids such as
``k3XqP0AbZ9wQ1mNs``; a model whose devices use them declares
``mobile_id = TextMobileIdField()`` (docs/clients/watermelondb.md#ids). Every place that
reads an id a device sent (push entries, references) goes through :func:`read_mobile_id`,
so both kinds follow one rule:

- UUID models accept what ``uuid.UUID()`` accepts, and hold it as a ``UUID`` (any spelling
  names the same record; pulls return the canonical form);
- text-id models accept 1 to 64 characters from ``[A-Za-z0-9_-]``, kept byte for byte as
  sent, UUIDs included: ``abc`` and ``ABC`` are two records, and so are ``9E9D…`` and
  ``9e9d…`` (WatermelonDB matches ids as strings: an id sent back in another spelling
  would be a second copy on the device).

:class:`RewriteHexUUIDs` is the migration step a model needs when it switches on SQLite,
where Django stores a ``UUIDField`` as 32 hex digits without hyphens.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Value
from django.db.models.functions import Concat, Length, Lower, Substr
from django.utils.deconstruct import deconstructible

#: A record's id as the engine handles it: a ``UUID`` for UUID models, a ``str`` otherwise.
MobileId = uuid.UUID | str

#: The longest text id.
TEXT_ID_MAX_LENGTH = 64
#: A text id, as a JSON-schema / JavaScript regular expression.
TEXT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
#: What a device is told an id must be, by kind.
UUID_RULE = "a UUID"
TEXT_ID_RULE = "a UUID or 1 to 64 characters from A-Z, a-z, 0-9, _ and -"

_TEXT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HELP_TEXT = "Client-generated id of the record."


def new_text_id() -> str:
    """A new id for a record created on the server: a UUID, as text."""
    return str(uuid.uuid4())


#: Migrations name the default by its public path, which a move of this module keeps.
new_text_id.__module__ = "django_mobile_sync.models"


class TextMobileIdField(models.CharField):  # type: ignore[type-arg]
    """A ``mobile_id`` that also takes text ids such as WatermelonDB's ``k3XqP0AbZ9wQ1mNs``.

    Declare it on a synced model to opt in (a field inherited from an abstract model may
    be overridden)::

        class Visit(SyncableModelMixin):
            mobile_id = TextMobileIdField()

    A ``CharField`` of at most 64 characters, indexed, defaulting to a new UUID as text.
    Migrations spell these options out, so a later release cannot change them unseen.
    """

    description = "A record's client-generated id: a UUID or 1 to 64 characters"
    default_validators = [RegexValidator(r"\A[A-Za-z0-9_-]{1,64}\Z", f"Enter {TEXT_ID_RULE}.")]
    _defaults: dict[str, Any] = {
        "max_length": TEXT_ID_MAX_LENGTH,
        "db_index": True,
        "default": new_text_id,
        "help_text": _HELP_TEXT,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        for name, value in self._defaults.items():
            kwargs.setdefault(name, value)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        """Named by its public path in migrations, whichever module defines it."""
        name, _path, args, kwargs = super().deconstruct()
        return name, "django_mobile_sync.models.TextMobileIdField", args, kwargs


def uses_text_ids(model: type[models.Model]) -> bool:
    """Whether ``model``'s ``mobile_id`` is a :class:`TextMobileIdField`."""
    try:
        field = model._meta.get_field("mobile_id")
    except FieldDoesNotExist:
        return False
    return isinstance(field, TextMobileIdField)


def id_rule(text: bool) -> str:
    """What an id must be, for a message: ``"a UUID"`` or the text-id rule."""
    return TEXT_ID_RULE if text else UUID_RULE


def read_mobile_id(value: Any, text: bool) -> MobileId | None:
    """``value`` (as a device sent it) as a record id, or ``None`` if it is not one.

    Args:
        value: the JSON value.
        text: whether the model takes text ids (:func:`uses_text_ids`).

    Returns:
        For a UUID model, a ``UUID``. For a text-id model, the ``str`` exactly as sent, a
        UUID in whatever case and spelling included: the device matches ids as strings.
    """
    if not isinstance(value, str):
        return None
    if not text:
        try:
            return uuid.UUID(value)
        except ValueError:
            return None
    return value if _TEXT_ID.fullmatch(value) else None


def id_order(mobile_id: MobileId) -> tuple[int, int, str]:
    """A sort key for ids of either kind: records are written and locked in this order.

    UUIDs sort by their integer (``UUID.__lt__`` is Python code, ``int``'s is not), before
    text ids, which sort by code point.
    """
    if isinstance(mobile_id, uuid.UUID):
        return (0, mobile_id.int, "")
    return (1, 0, mobile_id)


# -- switching a model from UUID ids to text ids -------------------------------------------


def rewrite_hex_uuids(model: type[models.Model], using: str, field: str = "mobile_id") -> int:
    """Rewrite ``field`` values of 32 hex digits in the canonical UUID form; how many.

    Django stores a ``UUIDField`` as 32 hex digits on databases without a UUID type (SQLite,
    MySQL). Once the column is text, ids are compared byte for byte, and those would no
    longer match the canonical form that devices were given by the model's pulls and
    answers while it had UUID ids (and send back). PostgreSQL's ``uuid`` column becomes text
    in the canonical form already: nothing matches there. The rows keep their version and
    change cursor: the ids are the same, only stored differently.
    """
    column = F(field)
    parts: list[Any] = []
    for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12)):
        if parts:
            parts.append(Value("-"))
        parts.append(Substr(column, start, length))
    rows: models.QuerySet[Any] = (
        model._base_manager.using(using)
        .alias(dms_length=Length(field))
        .filter(dms_length=32, **{f"{field}__regex": "^[0-9A-Fa-f]{32}$"})
    )
    canonical = Lower(Concat(*parts, output_field=models.CharField()))
    return rows.update(**{field: canonical})


@deconstructible(path="django_mobile_sync.models.RewriteHexUUIDs")
class RewriteHexUUIDs:
    """The code of a ``RunPython`` step: :func:`rewrite_hex_uuids` on each model named.

    Add it to the migration that turns a ``mobile_id`` into a :class:`TextMobileIdField`,
    after the ``AlterField`` operations::

        migrations.RunPython(
            RewriteHexUUIDs("shop.Visit", "shop.Photo"), migrations.RunPython.noop
        )

    Args:
        *models: the models, as ``"app_label.ModelName"``.
        field: the field to rewrite.
    """

    def __init__(self, *models: str, field: str = "mobile_id") -> None:
        self.models, self.field = models, field

    def __call__(self, apps: Any, schema_editor: Any) -> None:
        for label in self.models:
            model = apps.get_model(label)
            rewrite_hex_uuids(model, schema_editor.connection.alias, self.field)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, RewriteHexUUIDs)
            and self.models == other.models
            and self.field == other.field
        )

    def __hash__(self) -> int:
        return hash((self.models, self.field))
