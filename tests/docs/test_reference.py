"""The reference tables of the documentation list every setting (with its default),
``SyncDomain`` option, system check id, item status, error ``code`` and hook that the code
has, and nothing the code does not."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from pathlib import Path

import rest_framework
from django.dispatch import Signal

from django_mobile_sync import conf, resolvers, signals
from django_mobile_sync.api import errors
from django_mobile_sync.domains import SyncDomain
from django_mobile_sync.engine import SYNCED_STATUSES
from django_mobile_sync.service import SyncService
from tests.helpers.docs import (
    DOCS,
    SRC,
    prose,
    section,
    table_column,
)


def test_every_setting_is_documented_with_its_default() -> None:
    page = (DOCS / "settings.md").read_text(encoding="utf-8")
    documented = re.findall(r"^### `([A-Z_]+)`\n\nDefault: `(.+)`$", page, re.M)
    assert sorted(k for k, _ in documented) == sorted(conf.DEFAULTS)
    for key, default in documented:
        assert eval(default, {"timedelta": timedelta}) == conf.DEFAULTS[key], key


def test_every_domain_option_is_documented() -> None:
    rows = table_column(section(DOCS / "domains.md", "### Options"))
    options = [re.fullmatch(r"`(\w+)`", row)[1] for row in rows[1:]]  # type: ignore[index]
    assert sorted(options) == sorted(f.name for f in dataclasses.fields(SyncDomain))
    required = {
        f.name
        for f in dataclasses.fields(SyncDomain)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    defaults = dict(
        zip(options, table_column(section(DOCS / "domains.md", "### Options"), 1)[1:], strict=True)
    )
    assert {o for o, d in defaults.items() if d == "required"} == required


def test_every_system_check_is_documented() -> None:
    source = "".join(
        path.read_text(encoding="utf-8")
        for path in sorted(SRC.rglob("*.py"))
        if path.parent.name == "checks" or path.stem == "checks"
    )
    produced = set(re.findall(r"\b[EW]\d{3}\b", source))
    rows = table_column(section(DOCS / "domains.md", "## System checks"))
    documented = {re.fullmatch(r"`django_mobile_sync\.([EW]\d{3})`", r)[1] for r in rows[1:]}  # type: ignore[index]
    assert documented == produced


def test_every_item_status_is_documented_in_its_list() -> None:
    rows = section(DOCS / "protocol.md", "#### Item statuses")
    documented: dict[str, str] = dict(re.findall(r"^\| `(\w+)` \| `(\w+)` \|", rows, re.M))
    expected: dict[str, str] = {
        **dict.fromkeys(map(str, SYNCED_STATUSES), "synced_items"),
        "conflict": "conflicts",
        "error": "errors",
    }
    assert documented == expected


def test_every_hook_resolver_command_and_signal_is_documented() -> None:
    domains_page = prose(DOCS / "domains.md")
    hooks = [
        name
        for name, value in vars(SyncService).items()
        if callable(value) and not name.startswith("_") and name not in ("push", "pull")
    ]
    for name in hooks:
        assert f"`{name}(" in domains_page, name
    for name in resolvers.RESOLVERS:
        assert f"| `{name}`" in domains_page, name
    for field in dataclasses.fields(resolvers.ConflictContext):
        assert f"| `{field.name}` |" in domains_page, field.name
    operations = prose(DOCS / "operations.md")
    for command in SRC.rglob("management/commands/[!_]*.py"):
        assert f"manage.py {command.stem}" in operations, command.stem
    for name, value in vars(signals).items():
        if isinstance(value, Signal):
            assert f"django_mobile_sync.signals.{name}" in operations, name


def documented_codes() -> dict[str, int]:
    """``{code: status}`` from the errors table of protocol.md."""
    rows = section(DOCS / "protocol.md", "## Errors")
    codes = {}
    for status, cells in re.findall(r"^\| (\d{3}) \| ([^|]+) \|", rows, re.M):
        for code in re.findall(r"`(\w+)`", cells):
            codes[code] = int(status)
    return codes


def src_codes() -> set[str]:
    source = "\n".join(p.read_text(encoding="utf-8") for p in SRC.rglob("*.py"))
    return set(re.findall(r"""(?:\bcode=|default_code = |"code": )["'](\w+)["']""", source))


def test_every_code_the_library_produces_is_documented() -> None:
    assert src_codes() - set(documented_codes()) == set()


def test_every_documented_code_is_produced() -> None:
    drf = "\n".join(
        (Path(rest_framework.__file__).parent / name).read_text(encoding="utf-8")
        for name in ("exceptions.py", "fields.py", "serializers.py")
    )
    for code in documented_codes():
        assert code in src_codes() or re.search(rf"""['"]{code}['"]""", drf), code


def test_documented_statuses_match_the_exceptions() -> None:
    from rest_framework import exceptions

    codes = documented_codes()
    classes = [*vars(exceptions).values(), *vars(errors).values()]
    checked = 0
    for cls in classes:
        is_api_error = isinstance(cls, type) and issubclass(cls, exceptions.APIException)
        if is_api_error and cls.default_code in codes:
            assert codes[cls.default_code] == cls.status_code, cls
            checked += 1
    assert checked >= 10
    assert codes["reset_required"] == 410 and codes["invalid_cursor"] == 400
