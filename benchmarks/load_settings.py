"""The example project's settings, with the per-item baseline view routed beside the sync API
(``benchmarks/load_baseline.py``): what the push load run serves under gunicorn."""

from example.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.load_baseline"
