"""Benchmarks of django-mobile-sync: ``make bench`` (or ``python benchmarks/run.py``)."""
