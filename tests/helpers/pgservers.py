"""Real PostgreSQL servers the scale-out tests start themselves, next to the shared cluster.

- :class:`Standby`: a hot standby of the test cluster (``pg_basebackup -R``), on its own
  port, streaming from the primary;
- :class:`Scratch`: a brand-new cluster (``initdb``), for a dump restored elsewhere;
- :class:`Bouncer`: PgBouncer in transaction-pooling mode in front of the primary.

``make bench`` starts the same servers for its scaled-out load run (``benchmarks/load.py``).
They need the PostgreSQL server binaries of the primary's major version and PgBouncer from
the distribution's packages (``.ci/run`` installs them), a primary on this machine, and to
run as root (the servers run as the ``postgres`` user, via ``runuser``) or as ``postgres``.
What is missing is a skip that says so, or a failure under ``REQUIRE_POSTGRES=1`` (CI).

The shared cluster is left alone: a base backup, one ``host replication`` line in its
``pg_hba.conf`` (added once, then reloaded; it stays, marked), no replication slot (the
base backup's own slot is temporary), never a restart. Every server started here is stopped
and its directory removed at teardown, and a leftover of a killed run is removed before a
new one starts.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connections

#: Marks the line the set-up adds to the primary's pg_hba.conf.
HBA_MARK = "# django-mobile-sync tests: local streaming replicas (tests/pgservers.py)"
HBA_LINE = "host replication all 127.0.0.1/32 trust"
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


def unavailable(reason: str) -> None:
    """Skip, saying why; under ``REQUIRE_POSTGRES=1`` (CI) fail instead (outside pytest,
    ``pytest.skip`` raises too: the benchmarks report it)."""
    message = f"{reason} (.ci/run installs the packages: apt-get install -y pgbouncer)"
    if os.environ.get("REQUIRE_POSTGRES"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Primary:
    """The cluster the servers below copy or front, and the database they are about."""

    def __init__(self, host: str, port: int, user: str, dbname: str) -> None:
        self.host, self.port, self.user, self.dbname = host, port, user, dbname

    @classmethod
    def of_alias(cls, alias: str = "default") -> Primary:
        """The server a Django alias reaches (the test database, during the tests)."""
        params = connections[alias].settings_dict
        return cls(
            params["HOST"] or "127.0.0.1",
            int(params["PORT"] or 5432),
            params["USER"] or getpass.getuser(),
            params["NAME"],
        )

    def connect(self, dbname: str | None = None) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            dbname=dbname or self.dbname,
            autocommit=True,
        )

    def sql(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.connect() as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def setting(self, name: str) -> str:
        return str(self.sql(f"SHOW {name}")[0][0])

    @property
    def bindir(self) -> Path:
        return Path(f"/usr/lib/postgresql/{int(self.setting('server_version_num')) // 10000}/bin")

    def wal_lsn(self) -> str:
        return str(self.sql("SELECT pg_current_wal_lsn()::text")[0][0])


def as_postgres(*command: str | Path) -> list[str]:
    """``command`` run as the ``postgres`` user (PostgreSQL and PgBouncer refuse root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *map(str, command)]
    return [str(c) for c in command]


def run(*command: str | Path, timeout: float = 120) -> str:
    done = subprocess.run(
        as_postgres(*command), capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode:
        raise RuntimeError(
            f"{' '.join(map(str, command))} failed ({done.returncode}):\n"
            f"{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def check_prerequisites(primary: Primary) -> None:
    """Skip (or fail in CI) unless this machine can run the servers these tests start."""
    if primary.host not in ("127.0.0.1", "localhost", "::1"):
        unavailable(f"the test cluster at {primary.host} is not on this machine")
    if os.geteuid() != 0 and getpass.getuser() != "postgres":
        unavailable("starting a second PostgreSQL server needs root or the postgres user")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        unavailable("runuser (util-linux) is missing")
    if not (primary.bindir / "pg_ctl").exists():
        unavailable(f"the PostgreSQL server binaries are not in {primary.bindir}")


def workdir(name: str) -> Path:
    """An empty directory the postgres user owns; a leftover of a killed run is removed."""
    path = Path("/tmp") / name
    if path.exists():
        for pid_file in path.glob("*/postmaster.pid"):
            stop_cluster(pid_file.parent)
        for pid_file in path.glob("*.pid"):
            kill_pidfile(pid_file)
        shutil.rmtree(path, ignore_errors=True)
    path.mkdir(mode=0o700)
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")
    return path


def kill_pidfile(pid_file: Path) -> None:
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 15)
    except (OSError, ValueError, IndexError):
        pass


def stop_cluster(datadir: Path) -> None:
    """Stop the server of ``datadir`` at once (these are disposable)."""
    version = (datadir / "PG_VERSION").read_text().strip() if datadir.exists() else ""
    pg_ctl = Path(f"/usr/lib/postgresql/{version}/bin/pg_ctl")
    if not version or not pg_ctl.exists():
        return
    subprocess.run(
        as_postgres(pg_ctl, "-D", datadir, "-m", "immediate", "-w", "stop"),
        capture_output=True,
        check=False,
        timeout=60,
    )


class Server:
    """A PostgreSQL server these tests started: a standby or a scratch cluster."""

    def __init__(self, primary: Primary, directory: Path, name: str) -> None:
        self.primary, self.name = primary, name
        self.datadir = directory / name
        self.socket_dir = directory
        self.log = directory / f"{name}.log"
        self.port = free_port()

    def start(self, **settings: str) -> None:
        options = {
            "port": str(self.port),
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.socket_dir),
            "fsync": "off",
            "shared_buffers": "32MB",
            "logging_collector": "off",
            **settings,
        }
        flags = " ".join(f"-c {k}={v}" for k, v in options.items())
        pg_ctl = self.primary.bindir / "pg_ctl"
        run(pg_ctl, "-D", self.datadir, "-l", self.log, "-w", "-t", "60", "-o", flags, "start")

    def stop(self) -> None:
        stop_cluster(self.datadir)

    def connect(self, dbname: str | None = None) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.primary.user,
            dbname=dbname or self.primary.dbname,
            autocommit=True,
        )

    def sql(
        self, query: str, params: Sequence[Any] = (), dbname: str | None = None
    ) -> list[tuple[Any, ...]]:
        with self.connect(dbname) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def settings_dict(self) -> dict[str, Any]:
        """The ``default`` alias's settings, pointed at this server."""
        return {**connections["default"].settings_dict, "HOST": "127.0.0.1", "PORT": self.port}


class Standby(Server):
    """A hot standby of the primary: ``pg_basebackup -R``, then streaming."""

    def create(self) -> None:
        ensure_replication_allowed(self.primary)
        run(
            self.primary.bindir / "pg_basebackup",
            "-h",
            self.primary.host,
            "-p",
            str(self.primary.port),
            "-U",
            self.primary.user,
            "-D",
            self.datadir,
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
        )
        (self.datadir / "postgresql.conf").write_text("")
        (self.datadir / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 trust\n"
        )
        (self.datadir / "pg_ident.conf").write_text("")
        if os.geteuid() == 0:
            for path in (self.datadir / n for n in ("postgresql.conf", "pg_hba.conf")):
                shutil.chown(path, "postgres", "postgres")
            shutil.chown(self.datadir / "pg_ident.conf", "postgres", "postgres")
        # A standby needs at least the primary's values of these.
        limits = (
            "max_connections",
            "max_worker_processes",
            "max_wal_senders",
            "max_prepared_transactions",
            "max_locks_per_transaction",
        )
        self.start(
            hot_standby="on",
            hot_standby_feedback="on",
            wal_receiver_status_interval="1s",
            **{name: self.primary.setting(name) for name in limits},
        )
        self.wait_until_caught_up()

    def wait_until_caught_up(self, timeout: float = 30) -> None:
        """Wait until the standby has replayed the primary's WAL up to now."""
        target = self.primary.wal_lsn()
        deadline = time.monotonic() + timeout
        while True:
            try:
                [(done,)] = self.sql("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
                if done:
                    return
            except psycopg.OperationalError:
                pass  # still starting
            if time.monotonic() > deadline:
                raise RuntimeError(f"the standby did not replay up to {target} in {timeout}s")
            time.sleep(0.05)

    def pause_replay(self) -> None:
        self.sql("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.sql("SELECT pg_wal_replay_resume()")

    def disconnect(self) -> None:
        """Stop receiving WAL (as if the primary had died): what it has not received is lost."""
        self.sql("ALTER SYSTEM SET primary_conninfo = ''")
        self.sql("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 15
        while self.sql("SELECT count(*) FROM pg_stat_wal_receiver")[0][0]:
            if time.monotonic() > deadline:
                raise RuntimeError("the standby's WAL receiver did not stop")
            time.sleep(0.05)

    def promote(self) -> None:
        self.sql("SELECT pg_promote(true, 30)")


class Scratch(Server):
    """A new, empty cluster of its own (``initdb``): a server a dump may be restored into."""

    def create(self) -> None:
        run(
            self.primary.bindir / "initdb",
            "-D",
            self.datadir,
            "-U",
            self.primary.user,
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        )
        self.start()

    def restore_from_primary(self, dbname: str) -> None:
        """``pg_dump`` the primary's ``dbname`` and restore it here, under the same name."""
        dump = self.socket_dir / f"{dbname}.dump"
        run(
            self.primary.bindir / "pg_dump",
            "-h",
            self.primary.host,
            "-p",
            str(self.primary.port),
            "-U",
            self.primary.user,
            "-Fc",
            "-f",
            dump,
            dbname,
        )
        self.sql(f'CREATE DATABASE "{dbname}"', dbname="postgres")
        run(
            self.primary.bindir / "pg_restore",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            self.primary.user,
            "-d",
            dbname,
            "--no-owner",
            dump,
        )


def ensure_replication_allowed(primary: Primary) -> None:
    """Add a ``host replication`` line for 127.0.0.1 to the primary's pg_hba.conf, once."""
    hba = Path(primary.setting("hba_file"))
    text = hba.read_text()
    if HBA_MARK in text:
        return
    hba.write_text(f"{text.rstrip()}\n\n{HBA_MARK}\n{HBA_LINE}\n")
    primary.sql("SELECT pg_reload_conf()")
    errors = primary.sql(
        "SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL"
    )
    if errors:
        raise RuntimeError(f"{hba} has errors after the edit: {errors}")


class Bouncer:
    """PgBouncer in transaction-pooling mode in front of the primary, on its own port."""

    def __init__(self, primary: Primary, directory: Path) -> None:
        self.primary, self.directory = primary, directory
        self.port = free_port()
        self.ini = directory / "pgbouncer.ini"
        self.log = directory / "pgbouncer.log"
        self.pidfile = directory / "pgbouncer.pid"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        (self.directory / "users.txt").write_text(f'"{self.primary.user}" ""\n')
        self.ini.write_text(
            "[databases]\n"
            f"* = host={self.primary.host} port={self.primary.port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            f"unix_socket_dir = {self.directory}\n"
            "auth_type = trust\n"
            f"auth_file = {self.directory / 'users.txt'}\n"
            "pool_mode = transaction\n"
            # The primary is shared: at most 12 server connections per database.
            "default_pool_size = 10\n"
            "reserve_pool_size = 2\n"
            "max_db_connections = 12\n"
            "max_client_conn = 200\n"
            "ignore_startup_parameters = extra_float_digits\n"
            f"admin_users = {self.primary.user}\n"
            f"logfile = {self.log}\n"
            f"pidfile = {self.pidfile}\n"
        )
        if os.geteuid() == 0:
            for path in self.directory.iterdir():
                shutil.chown(path, "postgres", "postgres")
        self.process = subprocess.Popen(
            as_postgres(PGBOUNCER, self.ini),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                with psycopg.connect(
                    host="127.0.0.1",
                    port=self.port,
                    user=self.primary.user,
                    dbname=self.primary.dbname,
                    connect_timeout=2,
                ):
                    return
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = self.log.read_text() if self.log.exists() else ""
                    raise RuntimeError(f"PgBouncer did not start:\n{log[-2000:]}") from None
                time.sleep(0.1)

    def admin(self, command: str) -> list[dict[str, Any]]:
        """A command of PgBouncer's admin console (``SHOW CONFIG``...), as rows of dicts."""
        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.primary.user,
            dbname="pgbouncer",
            autocommit=True,
            prepare_threshold=None,
        ) as conn:
            cursor = conn.execute(command)
            names = [column.name for column in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            kill_pidfile(self.pidfile)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# -- fixtures ---------------------------------------------------------------------------------


@contextmanager
def pointing(aliases: Sequence[str], host: str, port: int) -> Iterator[None]:
    """Point ``aliases`` at another server for the duration (new connections go there).

    A failover or a restore behind the same alias: the settings dicts are shared by every
    thread's connection, so threads started meanwhile connect there too.
    """
    saved = {}
    for alias in aliases:
        connections[alias].close()
        params = connections.settings[alias]
        saved[alias] = (params["HOST"], params["PORT"])
        params["HOST"], params["PORT"] = host, port
    try:
        yield
    finally:
        for alias, (old_host, old_port) in saved.items():
            connections[alias].close()
            params = connections.settings[alias]
            params["HOST"], params["PORT"] = old_host, old_port


@pytest.fixture(scope="session")
def primary(django_db_setup: Any) -> Primary:
    """The test cluster, once its test databases exist (so standbys copy them)."""
    if connections["default"].vendor != "postgresql":
        pytest.fail("the scale-out tests need PostgreSQL (they are marked postgres)")
    found = Primary.of_alias("default")
    check_prerequisites(found)
    return found


@pytest.fixture(scope="session")
def servers_dir(primary: Primary) -> Iterator[Path]:
    suffix = os.environ.get("TEST_DB_SUFFIX", "local")
    path = workdir(f"dms-pgservers-{suffix}")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def standby(primary: Primary, servers_dir: Path) -> Iterator[Standby]:
    """A hot standby of the test cluster, streaming, shared by the session."""
    server = Standby(primary, servers_dir, "standby")
    try:
        server.create()
        yield server
    finally:
        server.stop()


@pytest.fixture
def replica(standby: Standby) -> Iterator[str]:
    """The alias ``replica`` (``tests/settings.py``), pointed at the session's standby,
    caught up with the primary."""
    standby.wait_until_caught_up()
    with pointing(["replica"], "127.0.0.1", standby.port):
        yield "replica"


@pytest.fixture
def bouncer(primary: Primary, servers_dir: Path) -> Iterator[Bouncer]:
    """PgBouncer (transaction pooling) in front of the primary; ``default`` and ``other``
    connect through it for the test."""
    if not Path(PGBOUNCER).exists():
        unavailable("PgBouncer is not installed")
    server = Bouncer(primary, servers_dir)
    try:
        server.start()
        with pointing(["default", "other"], "127.0.0.1", server.port):
            yield server
    finally:
        server.stop()
