"""Run every benchmark, print the table and write docs/benchmarks.md (``make bench``).

Each benchmark runs in its own process (Django is configured once per process, and memory
is measured in a process that did nothing else); this script collects their results.

    python benchmarks/run.py            # everything, about 14 minutes on 2 cores
    python benchmarks/run.py --quick    # fewer runs, smaller tables, shorter load runs
    python benchmarks/run.py --only push,pull --backends postgresql --no-docs
    python benchmarks/run.py --only views --quick   # the views ratios (docs/views.md)
    python benchmarks/run.py --quick --full-size first_sync,views,files,live
        # quick, except the issues' full sizes for those steps (100,000 records of first
        # sync, a tenant of 1,000,000 tasks, a 100 MB upload, 1,000 streams)

The profile step times where one push request goes (``profile_push.py``). The load step
first runs the push load of issue 23 (``creates_load.py``: one user's 16 devices pushing
100 creates to 2 sync workers, then the same load on a per-item view), then the mixed load
twice: on one gunicorn instance, then on the scaled-out recipe of
docs/scaling.md (two instances, PgBouncer, a streaming replica the run starts; it needs
root or the postgres user and PgBouncer, and is reported as skipped without them).

PostgreSQL is reached at ``BENCH_PG_URL`` (default ``postgres://root@127.0.0.1:5432/postgres``;
the benchmarks create and drop their own ``bench_dms_*`` databases); when it does not
answer, the PostgreSQL benchmarks are skipped and the report says so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import report  # noqa: E402
from benchmarks.common import PG_URL, settle  # noqa: E402

BACKENDS = ["sqlite", "postgresql"]
#: Results of the library before the performance work, shown beside this run's.
REFERENCE = ROOT / "benchmarks" / "reference-5075581.json"
STEPS = ["push", "pull", "first_sync", "multi", "views", "files", "profile", "load", "live"]


def run_step(module: str, *args: str, library_src: str | None, timeout: float) -> dict[str, Any]:
    """Run ``python -m benchmarks.<module>`` and return its ``BENCH-RESULT``."""
    env = dict(os.environ)
    paths = [p for p in (library_src, str(ROOT), env.get("PYTHONPATH")) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    if library_src:
        env["BENCH_LIBRARY_SRC"] = library_src
    command = [sys.executable, "-m", f"benchmarks.{module}", *args]
    print(f"$ {' '.join(command[1:])}", flush=True)
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    result: dict[str, Any] = {}
    started = time.monotonic()
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("BENCH-RESULT "):
            result = json.loads(line[len("BENCH-RESULT ") :])
        else:
            print("  " + line.rstrip(), flush=True)
        if time.monotonic() - started > timeout:
            process.kill()
            break
    code = process.wait()
    if code or (not result and module != "first_sync"):
        raise RuntimeError(f"benchmarks.{module} {' '.join(args)} failed (exit {code})")
    return result


def postgres_answers() -> bool:
    try:
        import psycopg

        psycopg.connect(PG_URL, connect_timeout=3).close()
    except Exception:
        return False
    return True


def environment(backends: list[str]) -> dict[str, Any]:
    import django
    import rest_framework

    info: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "django": django.get_version(),
        "drf": rest_framework.VERSION,
        "cpus": os.cpu_count(),
        "cpu": _cpu_model(),
        "load_before": os.getloadavg(),
        "backends": backends,
    }
    if "postgresql" in backends:
        import psycopg

        with psycopg.connect(PG_URL) as conn:
            info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = ""
    info["commit"] = commit
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, smaller data")
    parser.add_argument(
        "--full-size",
        default="",
        help="with --quick, steps measured at full size all the same (comma-separated)",
    )
    parser.add_argument("--only", default=",".join(STEPS), help="steps: " + ",".join(STEPS))
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument(
        "--runs",
        type=int,
        help="push runs per backend (default 7 on PostgreSQL, 3 on SQLite; quick 2)",
    )
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python memory")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("--json", help="also write the raw results to this file")
    parser.add_argument(
        "--library-src",
        default=str(ROOT / "src"),
        help="benchmark the library in this src/ directory (default: this checkout's)",
    )
    parser.add_argument("--load-seconds", type=float)
    parser.add_argument(
        "--push-load-seconds", type=float, help="per contender (default 20, quick 8)"
    )
    args = parser.parse_args()

    steps = args.only.split(",")
    backends = args.backends.split(",")
    skipped: list[str] = []
    if "postgresql" in backends and not postgres_answers():
        backends.remove("postgresql")
        skipped.append(f"PostgreSQL: {PG_URL} does not answer")
    full_size = [step for step in args.full_size.split(",") if step]
    quick = args.quick
    started = time.monotonic()
    results: dict[str, Any] = {
        "env": {
            **environment(backends),
            "library_src": None if args.library_src == str(ROOT / "src") else args.library_src,
        },
        "quick": quick,
        "full_size": [step for step in full_size if step in steps] if quick else [],
        "push": {},
        "pull": {},
        "first_sync": {},
        "multi": {},
        "views": {},
        "files": {},
        "load": None,
        "load_scaleout": None,
        "first_sync_floor": {},
        "profile_push": None,
        "creates_load": None,
        "skipped": skipped,
    }
    src = args.library_src
    for backend in backends:
        quick = args.quick and "push" not in full_size
        if "push" in steps:
            runs = args.runs or (2 if quick else (7 if backend == "postgresql" else 3))
            results["push"][backend] = run_step(
                "push", "--backend", backend, "--runs", str(runs), library_src=src, timeout=900
            )
        quick = args.quick and "pull" not in full_size
        if "pull" in steps:
            sizes = "10000"
            if backend == "postgresql":
                sizes = "10000,200000" if quick else "10000,1000000"
            results["pull"][backend] = run_step(
                "pull",
                "--backend",
                backend,
                "--sizes",
                sizes,
                "--repeat",
                "7" if quick else "15",
                library_src=src,
                timeout=900,
            )
        quick = args.quick and "first_sync" not in full_size
        if "first_sync" in steps:
            # 1 row in 100 is a tombstone: 101,011 rows are 100,000 live records.
            rows = "20000" if quick else "101011"
            base = ["--backend", backend]
            run_step(
                "first_sync", *base, "--generate", "--rows", rows, library_src=src, timeout=600
            )
            sync = run_step("first_sync", *base, "--measure", "rss", library_src=src, timeout=600)
            results["first_sync"][backend] = sync["first_sync"]
            watermelon = ["--measure", "rss", "--protocol", "watermelon"]
            wm = run_step("first_sync", *base, *watermelon, library_src=src, timeout=600)
            results.setdefault("watermelon_first_sync", {})[backend] = wm["first_sync"]
            floor = ["--measure", "rss", "--protocol", "floor"]
            found = run_step("first_sync", *base, *floor, library_src=src, timeout=600)
            results["first_sync_floor"][backend] = found["first_sync"]
            if args.tracemalloc:
                traced = run_step(
                    "first_sync", *base, "--measure", "tracemalloc", library_src=src, timeout=900
                )
                results["first_sync"][backend]["python_peak_mib"] = traced["first_sync"][
                    "python_peak_mib"
                ]
            run_step("first_sync", *base, "--drop", library_src=src, timeout=120)
        quick = args.quick and "multi" not in full_size
        if "multi" in steps:
            runs = args.runs or (2 if quick else 5)
            results["multi"][backend] = run_step(
                "multi", "--backend", backend, "--runs", str(runs), library_src=src, timeout=900
            )
        quick = args.quick and "views" not in full_size
        if "views" in steps:
            big, backfill = ("50000", "20000") if quick else ("1000000", "100000")
            if backend == "sqlite" and not quick:
                big = "200000"  # SQLite: a smaller big tenant, the same ratios
            found = run_step(
                "views",
                "--backend",
                backend,
                "--big",
                big,
                "--backfill",
                backfill,
                "--repeat",
                "7" if quick else "15",
                library_src=src,
                timeout=1200,
            )
            results["views"][backend] = found["views"]
        quick = args.quick and "files" not in full_size
        if "files" in steps:
            # A 100 MB upload in 5 MiB chunks against a direct write (docs/files.md).
            mib, runs = ("20", "2") if quick else ("100", "3")
            results["files"][backend] = run_step(
                "files",
                "--backend",
                backend,
                "--mib",
                mib,
                "--runs",
                runs,
                library_src=src,
                timeout=600,
            )["files"]
    quick = args.quick and "profile" not in full_size
    if "profile" in steps and "postgresql" in backends:
        found = run_step(
            "profile_push", "--requests", "100" if quick else "300", library_src=src, timeout=600
        )
        results["profile_push"] = found["profile_push"]
    quick = args.quick and "load" not in full_size
    if "load" in steps:
        if "postgresql" in backends:
            # Issue 23's load: one user's 16 devices pushing 100 creates, 2 sync workers,
            # against the per-item view in the same run.
            waited = settle(postgres=True)
            print(f"  (waited {waited:.0f} s for the machine to settle)", flush=True)
            push_seconds = str(args.push_load_seconds or (8 if quick else 20))
            found = run_step(
                "creates_load", "--seconds", push_seconds, library_src=src, timeout=600
            )
            results["creates_load"] = found["creates_load"]
            seconds = args.load_seconds or (15 if quick else 60)
            # The same load on one server, then on the scaled-out recipe (docs/scaling.md).
            for topology, key in (("single", "load"), ("scaleout", "load_scaleout")):
                waited = settle(postgres=True)
                print(f"  (waited {waited:.0f} s for the machine to settle)", flush=True)
                found = run_step(
                    "load",
                    "--seconds",
                    str(seconds),
                    "--topology",
                    topology,
                    library_src=src,
                    timeout=seconds + 420,
                )
                if found.get("unavailable"):
                    skipped.append(f"scaled-out load run: {found['unavailable']}")
                results[key] = found["load"]
        else:
            skipped.append("load run: needs PostgreSQL")
    quick = args.quick and "live" not in full_size
    if "live" in steps:
        # Live streams (docs/live.md): commit-to-poke latency per back end, idle streams,
        # push and pull throughput with streams open against none.
        database = "postgresql" if "postgresql" in backends else "sqlite"
        quick_args = ["--quick"] if quick else []
        results["live"] = run_step(
            "live", "--database", database, *quick_args, library_src=src, timeout=2400
        )
    results["env"]["load_after"] = os.getloadavg()
    results["env"]["minutes"] = (time.monotonic() - started) / 60

    print()
    print(report.text(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    if not args.no_docs:
        target = ROOT / "docs" / "benchmarks.md"
        reference = json.loads(REFERENCE.read_text()) if REFERENCE.exists() else None
        target.write_text(report.markdown(results, " ".join(sys.argv[1:]), reference))
        print(f"Wrote {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
