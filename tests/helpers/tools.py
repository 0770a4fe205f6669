"""Tests that need a tool the machine may not have: skipped here, failed in CI.

A missing tool (``redis-server``, an optional Python package) skips the test locally, saying
what is missing; in CI (``CI`` set, as GitHub Actions and ``.ci/run`` do) it fails instead,
so a CI run never passes without the test.
"""

from __future__ import annotations

import importlib
import os
import shutil
from types import ModuleType

import pytest


def unavailable(reason: str) -> None:
    """Skip the running test because of ``reason``; in CI, fail it."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: CI must have it", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_binary(name: str) -> str:
    """The path of the program ``name``, or the test is skipped (failed in CI)."""
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed")
    assert path is not None
    return path


def require_module(name: str) -> ModuleType:
    """The module ``name``, or the test is skipped (failed in CI)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        unavailable(f"the Python package {name} is not installed")
        raise
