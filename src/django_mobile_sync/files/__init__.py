"""Files, ``{prefix}files/``: resumable uploads (tus 1.0.0), content-addressed per tenant.

Add ``"django_mobile_sync.files"`` to ``INSTALLED_APPS`` (after ``"django_mobile_sync"``),
declare file references on synced models with :class:`~.fields.FileReferenceField`, and
run ``manage.py purge_files`` daily (docs/files.md). The app declares its settings
(:data:`DEFAULTS`), serves its endpoints under the library's URLs and adds
``<field>_available``, ``<field>_size`` and ``<field>_content_type`` to pulls, all through
the core's public names.
"""

from __future__ import annotations

from datetime import timedelta

#: The ``MOBILE_SYNC`` keys of the app, with their defaults (declared when it is ready).
DEFAULTS = {
    # Largest file an upload may declare (Upload-Length), in bytes.
    "MAX_FILE_BYTES": 100 * 1024 * 1024,
    # An incomplete upload expires this long after it was created (Upload-Expires).
    "UPLOAD_EXPIRY": timedelta(hours=24),
    # A file no live record references is removed after this long (manage.py purge_files).
    "FILE_RETENTION": timedelta(days=7),
    # The alias in settings.STORAGES that holds the uploads' parts and the files.
    "FILES_STORAGE": "default",
    # Where the files live inside that storage.
    "FILES_LOCATION": "mobile_sync",
    # Import path of a callable(request) -> {tenant field: value}, the tenant a user's files
    # belong to; None: the scope of the first declared domain that has one.
    "FILES_SCOPE": None,
    # Most incomplete uploads one user may have at once; one more is a 429 (a device cannot
    # reserve the storage of thousands of files it never sends).
    "MAX_UPLOADS_IN_PROGRESS": 100,
    # A PATCH that has not finished after this long no longer blocks another (423).
    "UPLOAD_LOCK_TIMEOUT": timedelta(minutes=10),
}
