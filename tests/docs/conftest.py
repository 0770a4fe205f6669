"""Fixtures of the documentation tests."""

from __future__ import annotations

import sys
import types

import pytest

import tests.testapp.models as testapp_models
from django_mobile_sync import signals
from tests.helpers.docs import python_blocks


@pytest.fixture
def fieldwork(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """The docs' ``fieldwork`` app as importable modules (models: the test app's)."""
    # The samples connect receivers with a dispatch_uid: drop those of an earlier test, or
    # the new ones are ignored while the old ones wait for the garbage collector.
    for signal in (signals.batch_synced, signals.conflict_detected, signals.item_rejected):
        for entry in list(signal.receivers):
            uid = entry[0][0]
            if isinstance(uid, str) and uid.startswith("fieldwork."):
                signal.disconnect(dispatch_uid=uid)
    package = types.ModuleType("fieldwork")
    package.__path__ = []
    monkeypatch.setitem(sys.modules, "fieldwork", package)
    monkeypatch.setitem(sys.modules, "fieldwork.models", testapp_models)
    package.models = testapp_models  # type: ignore[attr-defined]
    for block in python_blocks():
        if not block.title.startswith("fieldwork/") or block.title.endswith("/models.py"):
            continue
        name = block.title.removesuffix(".py").replace("/", ".")
        module = sys.modules.get(name)
        if module is None:
            module = types.ModuleType(name)
            monkeypatch.setitem(sys.modules, name, module)
            setattr(package, name.rpartition(".")[2], module)
        exec(compile(block.body, str(block), "exec"), module.__dict__)
    return package
