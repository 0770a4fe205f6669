"""WatermelonDB's sync protocol, ``{prefix}watermelon/``: an optional app of the library.

Add ``"django_mobile_sync.watermelondb"`` to ``INSTALLED_APPS`` (after
``"django_mobile_sync"``) and map tables to domains in ``MOBILE_SYNC["WATERMELON"]``
(docs/clients/watermelondb.md). The app declares its settings (:data:`DEFAULTS`), checks
them (``E014``, ``E020``) and serves its endpoint under the library's URLs, all from its
``AppConfig``; it uses the core through its public names only (the engine, the records, the
API plumbing, the views), as any client protocol would.
"""

from __future__ import annotations

#: The ``MOBILE_SYNC`` keys of the app, with their defaults (declared when it is ready).
DEFAULTS = {
    # WatermelonDB's sync protocol ({prefix}watermelon/): {table name: domain name}.
    "WATERMELON": {},
    # Most records (created, updated and deleted, across tables) one WatermelonDB push may
    # carry: WatermelonDB sends every local change in one request.
    "WATERMELON_MAX_PUSH_RECORDS": 10_000,
}
