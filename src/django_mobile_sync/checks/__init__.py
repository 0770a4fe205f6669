"""The library's system checks, one module per area, registered when the app is ready.

- :mod:`.settings`: the ``MOBILE_SYNC`` keys (``E013`` to ``E016``, ``E018``);
- :mod:`.domains`: the declared domains (``E001`` to ``E012``, ``E015``, ``E017``, ``E019``,
  ``E021``);
- :mod:`.indexes`: the pull index of each domain's model (``W001``).

Ids are stable; each message names the setting or the domain and its option, and its hint
says what to do (docs/domains.md#system-checks). An optional app of the library (a client
protocol) registers the checks of its own settings from its ``AppConfig.ready()``, using
:func:`setting_type_error` for ``E014``, and numbers its other checks in the same series
(``E020``: the WatermelonDB app's table mapping; ``E023``: the files app's scopes).
"""

from __future__ import annotations

from .domains import check_domains, domain_problems
from .indexes import check_pull_indexes
from .settings import check_settings, positive_int, setting_type_error

__all__ = [
    "check_domains",
    "check_pull_indexes",
    "check_settings",
    "domain_problems",
    "positive_int",
    "setting_type_error",
]
