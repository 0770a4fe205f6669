"""Configuration from the environment, and the push rate limits it sets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.devices import Device, new_id

PROJECT = Path(__file__).resolve().parent.parent
PRINT = """
import json
from example import settings as s
print(json.dumps({"db": s.DATABASES["default"], "cache": s.CACHES["default"],
                  "rates": s.MOBILE_SYNC.get("THROTTLE_RATES"), "debug": s.DEBUG,
                  "store": s.MOBILE_SYNC["THROTTLE_STORE"],
                  "hosts": s.ALLOWED_HOSTS, "key": s.SECRET_KEY}, default=str))
"""
VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "SYNC_RATE_USER",
    "SYNC_RATE_DEVICE",
    "SYNC_RATE_PULL_USER",
    "SYNC_RATE_PULL_DEVICE",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "TEST_DB_SUFFIX",
)


def settings_with(**environ: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    result = subprocess.run(
        [sys.executable, "-c", PRINT],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT,
        env={**env, **environ},
    )
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_defaults() -> None:
    config = settings_with()
    assert config["db"]["ENGINE"] == "django.db.backends.sqlite3"
    assert config["db"]["NAME"] == str(PROJECT / "db.sqlite3")
    assert config["db"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert config["cache"]["BACKEND"].endswith("LocMemCache")
    assert config["rates"] is None  # the library's defaults apply
    assert config["store"] == "database"  # shared by every worker, unlike local memory
    assert config["debug"] is False
    assert "127.0.0.1" in config["hosts"]


def test_from_environment() -> None:
    config = settings_with(
        DATABASE_URL="postgres://app:pw@db.internal:5432/fieldops",
        REDIS_URL="redis://cache.internal:6379/1",
        SYNC_RATE_USER="500/hour",
        SYNC_RATE_DEVICE="200/hour",
        SYNC_RATE_PULL_USER="2000/hour",
        SYNC_RATE_PULL_DEVICE="1000/hour",
        SECRET_KEY="s3cret",
        DEBUG="true",
        ALLOWED_HOSTS="api.example.com, .example.org",
    )
    assert config["db"]["ENGINE"] == "django.db.backends.postgresql"
    assert (config["db"]["HOST"], config["db"]["NAME"]) == ("db.internal", "fieldops")
    assert config["cache"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://cache.internal:6379/1",
    }
    assert config["rates"] == {
        "user": "500/hour",
        "device": "200/hour",
        "pull_user": "2000/hour",
        "pull_device": "1000/hour",
    }
    assert config["store"] == "cache"  # REDIS_URL: the counters go to Redis
    assert (config["key"], config["debug"]) == ("s3cret", True)
    assert config["hosts"] == ["api.example.com", ".example.org"]


def test_one_rate_only() -> None:
    assert settings_with(SYNC_RATE_DEVICE="10/minute")["rates"] == {"device": "10/minute"}
    assert settings_with(SYNC_RATE_PULL_USER="60/minute")["rates"] == {"pull_user": "60/minute"}


@pytest.fixture
def rates(settings: Any) -> None:
    settings.MOBILE_SYNC = {
        **settings.MOBILE_SYNC,
        "THROTTLE_RATES": {"user": "4/hour", "device": "2/hour"},
    }


def test_pushes_are_throttled_per_device_and_user(rates: None, alice: Device) -> None:
    entry = {"mobile_id": new_id(), "jobdesc": "x"}
    assert [alice.push("activity", [entry]).status_code for _ in range(2)] == [200, 200]
    throttled = alice.push("activity", [entry])
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    # Another device has its own count but shares the user's, which the refused push also
    # used: this is the user's 4th push, the next one is over the user's limit.
    alice.device_id = "alice-tablet"
    assert alice.push("activity", [entry]).status_code == 200
    assert alice.push("activity", [entry]).status_code == 429
    assert alice.pull("activity").status_code == 200  # pulls are not limited
