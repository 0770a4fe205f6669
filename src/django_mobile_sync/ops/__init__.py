"""What operators run: the numbers of the sync analytics page (:mod:`.analytics`), the purges
of tombstones and expired idempotency records (:mod:`.purge`) and the checks of a deployment
behind ``manage.py sync_doctor`` (:mod:`.doctor`). The management commands are thin wrappers
around them.
"""
