"""The example project served for real: gunicorn's uvicorn workers (ASGI, as ``make example``
serves it) on a database of their own.

Tests that must see what a device or a browser sees (several worker processes, static files,
real sockets) start a :class:`LiveExample`. Each instance migrates a fresh database (an
SQLite file, or a PostgreSQL database named after ``TEST_DB_SUFFIX`` when ``DATABASE_URL``
points at PostgreSQL), collects the static files into its own directory as ``make example``
does (WhiteNoise serves them), serves it with gunicorn on a free port, and drops the
database when stopped. :meth:`LiveExample.seed_demo` adds ``make example``'s demo data.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import dj_database_url

PROJECT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveExample:
    """``make example``'s server, started by a test.

    Args:
        workdir: a directory for the SQLite file, the static files and the server's log.
        name: tells this server's database apart from others of the same run.
        workers: gunicorn worker processes.
        env: extra environment (``SYNC_RATE_USER``, ``REDIS_URL``...).
        static: run ``collectstatic`` before serving (the admin's styles, Swagger UI); a
            server that only answers devices can skip it.
        asgi: serve ``example.asgi`` with uvicorn workers (``make example``); ``False``
            serves ``example.wsgi`` with gunicorn's sync workers.
        database_url: serve this database (another server's) instead of a fresh one.
    """

    def __init__(
        self,
        workdir: Path,
        name: str = "live",
        *,
        workers: int = 2,
        env: dict[str, str] | None = None,
        static: bool = True,
        asgi: bool = True,
        database_url: str | None = None,
    ) -> None:
        self.workdir, self.name, self.workers, self.static = workdir, name, workers, static
        self.asgi, self.owns_database = asgi, database_url is None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url or self._fresh_database()
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "TEST_DB_SUFFIX"}},
            "DATABASE_URL": self.database_url,
            "DJANGO_SETTINGS_MODULE": "example.settings",
            "STATIC_ROOT": str(workdir / f"{name}-static"),
            "MEDIA_ROOT": str(workdir / f"{name}-media"),  # photos (django_mobile_sync.files)
            **(env or {}),
        }
        self.log = workdir / f"{name}-gunicorn.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.demo_tokens: dict[str, str] = {}

    # -- database ---------------------------------------------------------------------------
    @property
    def on_postgres(self) -> bool:
        return os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql"))

    def _fresh_database(self) -> str:
        if not self.on_postgres:
            path = self.workdir / f"{self.name}.sqlite3"
            path.unlink(missing_ok=True)
            return f"sqlite:///{path}"
        suffix = re.sub(r"[^a-z0-9_]", "_", os.environ.get("TEST_DB_SUFFIX", "local").lower())
        self.pg_name = f"live_{suffix}_{self.name}"[:63]
        self._admin(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')
        self._admin(f'CREATE DATABASE "{self.pg_name}"')
        config = dj_database_url.parse(os.environ["DATABASE_URL"])
        host, port, user = config["HOST"], config["PORT"] or 5432, config["USER"]
        return f"postgres://{user}@{host}:{port}/{self.pg_name}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as connection:
            connection.execute(sql)  # type: ignore[arg-type]

    # -- processes --------------------------------------------------------------------------
    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``manage.py`` against this server's database, as a shell would; whatever the
        outcome (exit status, stdout and stderr)."""
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=PROJECT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def manage(self, *args: str) -> str:
        """Run ``manage.py`` against this server's database; its stdout."""
        done = self.command(*args)
        if done.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout

    def seed_demo(self) -> dict[str, str]:
        """``make example``'s demo data (``seed_demo``); the demo users' tokens by username.

        The demo admin login is ``field_ops.demo.DEMO_ADMIN``.
        """
        output = self.manage("seed_demo")
        self.demo_tokens = dict(re.findall(r"^  (\w+) .* token (\w+)$", output, re.M))
        return self.demo_tokens

    def start(self) -> LiveExample:
        if self.owns_database:
            self.manage("migrate", "--noinput")
        if self.static:
            self.manage("collectstatic", "--noinput", "--verbosity", "0")
        app = "example.asgi:application" if self.asgi else "example.wsgi:application"
        worker = ["--worker-class", "uvicorn_worker.UvicornWorker"] if self.asgi else []
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                app,
                *worker,
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--access-logfile",
                "-",
            ],
            cwd=PROJECT,
            env=self.env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited:\n{self.log.read_text()}")
            try:
                if self.request("GET", "/health/")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"gunicorn did not answer in {STARTUP_SECONDS}s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.process = None
        if self.on_postgres and self.owns_database:
            self._admin(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')

    def __enter__(self) -> LiveExample:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- clients ----------------------------------------------------------------------------
    def token(
        self, username: str, client: str = "Acme Facilities", bu: str = "Downtown Tower"
    ) -> str:
        """A device user in that tenant (``sync_user``); its API token."""
        created = self.manage("sync_user", username, "--client", client, "--bu", bu, "--create")
        return created.splitlines()[-1]

    def tokens(
        self, *usernames: str, client: str = "Acme Facilities", bu: str = "Downtown Tower"
    ) -> dict[str, str]:
        """Several device users of one tenant in a single ``manage.py`` run: their tokens."""
        code = (
            "import json; from field_ops.tenants import ensure_user; "
            f"print(json.dumps({{name: ensure_user(name, {client!r}, {bu!r})[1] "
            f"for name in {list(usernames)!r}}}))"
        )
        tokens: dict[str, str] = json.loads(self.manage("shell", "-c", code).splitlines()[-1])
        return tokens

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request: status, headers and raw body (no exception for 4xx/5xx)."""
        sent = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.url + path, data=data, headers=sent, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def json(self, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        """Status and parsed JSON body of one request."""
        status, _headers, raw = self.request(method, path, body, **kwargs)
        return status, json.loads(raw) if raw else None
