"""The push-request part of docs/benchmarks.md (issue 23): the goals as ratios of one run,
the profile of one push request, the push load run against the per-item view, the first
sync against its floor, and the history of the changes to the push path."""

from __future__ import annotations

from typing import Any

#: Statements of one push request of 100 new records over HTTP on PostgreSQL (the test
#: app: token, throttles, a scope of two lookups), as ``tests/api/test_request_queries.py``
#: bounds them; one row per landed change of the push or pull path, newest last.
HISTORY = [
    (
        "`3759cd9` (before issue 23)",
        "13: token, 2 throttle counters (each its own commit, waiting for its WAL flush), "
        "scope (2), BEGIN, change clock, lock, SAVEPOINT, INSERT, RELEASE, batch log, COMMIT",
        "throttle counters 0.79 ms of 7.0 ms (quiet), 2.65 ms of 12.3 ms (busy machine)",
    ),
    (
        "issue 23: the throttles of a request in one statement, without a WAL flush wait",
        "12: the two counters are one statement",
        "throttle counters 0.37 ms of 6.4 ms (quiet), 0.60 ms of 10.2 ms (busy machine)",
    ),
    (
        "issue 23: new records inserted with binary array parameters, values prepared once "
        "per column (`records/inserts.py`); less work per create",
        "12: the same statements (the INSERT's arrays are binary parameters)",
        "one push of 1,000 creates, CPU of the process: 156-179 ms before, 81-90 ms after "
        "(service), 163-181 ms before, 91-104 ms after (HTTP); plain `bulk_create()` of "
        "the same rows 97-102 ms (busy machine, load average 5)",
    ),
]


#: Where a push of 1,000 creates goes beside the floor (issue 23), from a helper's profile.
CREATES = (
    "`python -m benchmarks.profile_push --entries 1000` and `python -m benchmarks.push "
    "--scenarios new` on PostgreSQL, in a helper's quick runs on a machine shared with "
    "other work (load average 5 to 6 on 2 CPUs): the service took 206 ms, HTTP 280 ms, "
    "plain `bulk_create()` of the same rows 126 ms (1.6x and 2.2x). No statement is per "
    "entry. Under cProfile, of a push over HTTP: Django building the INSERT's values "
    "(`get_db_prep_save` of every field of every row) about 18%, psycopg quoting the "
    "arrays Django 5.2 sends for a bulk INSERT on PostgreSQL about 16% (a regular "
    'expression substitution, with a Python callback, for each `"` and `\\` of a '
    "text element, many in a history field's JSON), the serializer validating each entry "
    "about 17%, building each model instance about 10%, parsing the entries 5%; the "
    "library's own bookkeeping (stamps, history, outcomes) a few percent. The first two "
    "are the floor's too; the next two are what a push does that `bulk_create()` does not: "
    "validating a device's values, and models for `before_save()` and the bulk write. "
    "Cut: a create whose serializer validates nothing beyond its fields (the default one) "
    "runs each field's validation as DRF's serializer would, without the serializer-level "
    "steps (`serializers.field_validator()`; an invalid entry goes through the serializer "
    "itself, for DRF's errors; `tests/engine/test_field_validator.py` compares both): 10 ms "
    "instead of 18 ms per 1,000 creates in-process. Not cut: building the models, which "
    "`before_save()`, the history and the bulk write need. Then the INSERT itself: the push "
    "now sends the statement Django writes (`INSERT ... SELECT * FROM UNNEST(...)`) with "
    "each column one binary array parameter, on a cursor that binds on the server and "
    "never prepares (`records/inserts.py`): psycopg sends each element as its bytes and "
    "escapes nothing, and a column of Django's own field classes whose values already "
    "have the field's type (text, whole numbers, UUIDs, aware datetimes...) goes as it "
    "is, without `pre_save()` and `get_db_prep_save()` per value "
    "(`tests/records/test_inserts.py` holds Django to returning such values unchanged). "
    "With a new model's stamps given up front (no `timezone.now()` defaults), DRF's "
    "timestamp fields reading `USE_TZ` once per field and ASCII text checked in one step "
    "(surrogates, storability), a push of 1,000 creates costs about half the CPU it did "
    "and less than plain `bulk_create()` of the same rows, which still pays psycopg's "
    "quoting: in quick interleaved runs of `benchmarks.push` on a busy machine (load "
    "average 5), the service at 0.7-1.0x the floor (1.1-1.6x before). What remains per "
    "entry: DRF validating the device's values (13 µs), Django building the model "
    "(13 µs), the history entry (8 µs), psycopg's binary arrays and the two JSON columns' "
    "`json.dumps` (about 15 µs)."
)

#: What the pull's fast way changed (issue 23), with the numbers of the busy machine.
FAST_PULL = (
    "A page used to build a model per row and run the domain's DRF serializer on it: about "
    "6x the floor. When the wire form is the library's own (no declared `serializer`, "
    "neither `serialize_record()` nor the serializer hooks overridden), the pull now reads "
    "the rows' columns with `values()` (each reference's `mobile_id` annotated in the same "
    "query) and turns each value with the serializer field that would have turned it "
    "(`engine/rows.py`; a value already of its wire type, such as text or a whole number, "
    "as it is): the same items, byte for byte (`tests/engine/test_rows.py` compares both "
    "ways on every test domain, on both databases). Native pages, multi-domain pages and "
    "WatermelonDB pulls all read this way; WatermelonDB's raw records keep plain values as "
    "they are and are encoded by one `JSONEncoder` rather than a new one per record. A "
    "helper's quick runs before `make bench`, 20,000 rows, on a machine shared with other "
    "work (load average 5 to 6 on 2 CPUs): on SQLite the native first sync went from 3.25 s "
    "to 1.0-1.4 s against a floor of 1.0 s, WatermelonDB's from 2.8 s to 1.4 s; on "
    "PostgreSQL the native one from 2.5-3.5 s to 1.7 s against a floor of 1.0 s, "
    "WatermelonDB's from 2.4 s to 1.0 s. In a quieter moment (load average 2.6), on "
    "SQLite after issue 24's views were merged: floor 0.34 s, native 0.59-0.71 s (about "
    "2x, at the goal's edge), WatermelonDB 0.45-0.47 s (1.4x). A domain with a view still "
    "reads models (its pages go through the view's own reader). "
    "What remains above the floor on a native page is "
    "per page (HTTP, the clock and horizon read, the purge check) and the page budget, "
    "which encodes each item once to count its bytes before the renderer encodes the page."
)


def ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}x"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def first_sync_ratios(results: dict[str, Any]) -> dict[str, float]:
    """Time of the native and the WatermelonDB first sync over the floor's, on PostgreSQL."""
    floor = results.get("first_sync_floor", {}).get("postgresql")
    if not floor:
        return {}
    found = {}
    for name, key in (("native", "first_sync"), ("WatermelonDB", "watermelon_first_sync")):
        sync = results.get(key, {}).get("postgresql")
        if sync:
            found[name] = sync["seconds"] / floor["seconds"]
    return found


def targets(results: dict[str, Any], push: dict[str, Any] | None) -> list[tuple[str, str, Any]]:
    """(goal, measured, met) for the goals of issue 23 that this run measured.

    ``push``: the 1,000-new row of the push benchmark on PostgreSQL (``report.push_rows``).
    """
    found: list[tuple[str, str, Any]] = []
    load = results.get("creates_load")
    if load and load.get("ratio") is not None:
        library = load["contenders"]["library"]
        p99 = library["latency"]["p99"]
        found += [
            (
                "load: 100-create pushes ≥ 8x the per-item view",
                ratio(load["ratio"]),
                load["ratio"] >= 8,
            ),
            ("load: p99 of the library's pushes < 500 ms", ms(p99), p99 < 0.5),
            ("load: 0 errors", str(library["errors"]), library["errors"] == 0),
        ]
    if push:
        found += [
            (
                "creates: a push of 1,000 ≥ 12x the per-item baseline (both over HTTP)",
                ratio(push["http_speedup"]),
                push["http_speedup"] >= 12,
            ),
            (
                "creates: a push of 1,000 over HTTP ≤ 1.5x raw bulk_create",
                ratio(push["http"] / push["floor"]),
                push["http"] / push["floor"] <= 1.5,
            ),
        ]
    for name, value in first_sync_ratios(results).items():
        found.append((f"first sync, {name}: ≤ 2x the floor", ratio(value), value <= 2))
    return found


def section(results: dict[str, Any], add: Any) -> None:
    """The push-request sections of the page."""
    add("## Push requests (issue 23)")
    add("")
    add(
        "Where one push request goes, and the load of issue 23: one user's devices pushing "
        "batches of 100 new records. A push of 1,000 creates costs what it cost before the "
        "engine; the loss the issue measured under load was per request. The statements of "
        "one push request and of one pull page are bounded by "
        "`tests/api/test_request_queries.py` (the same for 1 and 100 entries or items)."
    )
    add("")
    _profile(results.get("profile_push"), add)
    _history(add)
    add("### A push of 1,000 creates against bulk_create")
    add("")
    add(CREATES)
    add("")
    _load(results.get("creates_load"), add)
    _floor(results, add)


def _profile(profile: dict[str, Any] | None, add: Any) -> None:
    add("### Where a push request goes")
    add("")
    add(
        "`python -m benchmarks.profile_push`: one push of 100 new tasks through the DRF test "
        "client on PostgreSQL (token auth, throttles counting in the database store), "
        "repeated; every statement timed by an `execute_wrapper`, `COMMIT` apart "
        "(psycopg sends `BEGIN` just before the change clock's statement, timed with it), "
        "the rest is Python: parsing, validating each entry with its serializer, building "
        "the model instances and their INSERT parameters, rendering the answer."
    )
    add("")
    if not profile:
        add("_Not measured in this run (`--only` left it out, or no PostgreSQL)._")
        add("")
        return
    add(f"Per request: **{profile['request_ms']:.1f} ms** in-process.")
    add("")
    add("| part | statements | ms | share |")
    add("|---|---:|---:|---:|")
    total = profile["request_ms"]
    for kind, value in sorted(profile["sql_ms"].items(), key=lambda kv: -kv[1]):
        count = profile["statements"].get(kind, 0)
        add(f"| {kind} | {count:.0f} | {value:.2f} | {value / total:.0%} |")
    python = profile["python_ms"]
    add(f"| Python (everything else) | | {python:.2f} | {python / total:.0%} |")
    add("")
    add(
        "What the profile says: per entry, the work is Python (DRF validation and Django "
        "building the bulk INSERT, about 0.1 ms an entry) and one INSERT of every row; per "
        "request, a dozen round trips of 0.1 to 0.4 ms each. No statement is per entry; the "
        "savepoint pair is per bulk write (a failing write is retried row by row to isolate "
        "the bad entry). The horizon read (`pg_stat_activity`) is not on the push path: a "
        "push reads only its transaction id; pulls read the horizon, once per page. The "
        "dearest per-request statements were the two throttle counters: each is its own "
        "transaction, and its commit waited for a WAL flush."
    )
    add("")


def _history(add: Any) -> None:
    add("### Changes to the push path, before and after")
    add("")
    add("| change | statements per push request (PostgreSQL) | measured in-process |")
    add("|---|---|---|")
    for change, statements, measured in HISTORY:
        add(f"| {change} | {statements} | {measured} |")
    add("")


def _load(load: dict[str, Any] | None, add: Any) -> None:
    add("### Load: one user, 16 devices, batches of 100 creates")
    add("")
    if not load:
        add("_Not measured in this run._")
        add("")
        return
    add(
        f"`python -m benchmarks.creates_load`: the example project under gunicorn with "
        f"{load['workers']} sync workers on PostgreSQL, throttle counters in the "
        f"{load['store']} (rates out of reach), one user's {load['devices']} devices each "
        f"pushing {load['batch']} new `activity` tasks per request without `Idempotency-Key` "
        f"for {load['seconds']:.0f} s after a warm-up; then the same load on the seed-style "
        "per-item DRF view (`benchmarks/load_baseline.py`) served by the same gunicorn. "
        "Requests still running at the end do not count."
    )
    add("")
    add("| contender | items/s | pushes | p50 / p95 / p99 | errors | CPU: workers / machine |")
    add("|---|---:|---:|---:|---:|---:|")
    for name, found in load["contenders"].items():
        lat = " / ".join(ms(found["latency"][f"p{q}"]) for q in (50, 95, 99))
        cpu = found["cpu"]
        add(
            f"| {name.replace('_', '-')} | {found['items_per_s']:,.0f} | {found['pushes']} "
            f"| {lat} | {found['errors']} "
            f"| {cpu['gunicorn_workers']:.2f} / {cpu['machine_busy']:.2f} |"
        )
    add(f"| **ratio** | **{ratio(load['ratio'])}** | | | | |")
    add("")


def _floor(results: dict[str, Any], add: Any) -> None:
    floor = results.get("first_sync_floor", {})
    if not floor:
        return
    add("### First sync against its floor")
    add("")
    add(
        "The floor reads the same rows by keyset pages of 1,000 in `(change_seq, id)` order, "
        "the row comparison the pull uses, as dictionaries of the wire's columns (no model "
        "built, no cursor, no horizon, no HTTP), and serialises each page with the sync "
        "views' JSON renderer."
    )
    add("")
    add(FAST_PULL)
    add("")
    add("| database | floor | peak above idle | native / floor | WatermelonDB / floor |")
    add("|---|---:|---:|---:|---:|")
    for backend, found in floor.items():
        native = results.get("first_sync", {}).get(backend)
        wm = results.get("watermelon_first_sync", {}).get(backend)
        add(
            f"| {backend} | {found['seconds']:.2f} s | {found['above_idle_mib']:.1f} MiB "
            f"| {ratio(native['seconds'] / found['seconds']) if native else '—'} "
            f"| {ratio(wm['seconds'] / found['seconds']) if wm else '—'} |"
        )
    add("")
